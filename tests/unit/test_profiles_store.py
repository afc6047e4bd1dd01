"""The profile store on a real SQLite file: versions, ETags, no-op writes, seeding that respects API edits."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from profiles import Profile, ProfileError, ProfileStore, parse_profile
from profiles.store import PreconditionFailed, etag_matches

T0 = datetime(2025, 3, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProfileStore]:
    with ProfileStore(tmp_path / "data" / "ambience.db") as opened:
        yield opened


def profile(community_id: str = "book-club", volume: int = 15, **extra: object) -> Profile:
    return parse_profile({"community_id": community_id, "name": "Reading", "audio": {"volume": volume}, **extra})


def profile_file(folder: Path, name: str, community_id: str, volume: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"community_id: {community_id}\nname: From file\naudio: {{volume: {volume}}}\n", encoding="utf-8")
    return path


def test_wal_mode_and_full_sync(tmp_path: Path, store: ProfileStore) -> None:
    with sqlite3.connect(tmp_path / "data" / "ambience.db") as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_versions_count_up_per_community(store: ProfileStore) -> None:
    first = store.put(profile(volume=10), "admin", T0)
    second = store.put(profile(volume=20), "book-club", T0 + timedelta(minutes=1))
    other = store.put(profile("house", volume=5), "admin", T0)
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.community_id == "book-club" and first.author == "admin" and first.created_at == T0
    assert second.profile == profile(volume=20)
    latest = store.get("book-club")
    assert latest == second
    assert [v.version for v in store.versions("book-club")] == [2, 1]
    assert store.versions("book-club")[1] == first
    assert store.get("nobody") is None and store.versions("nobody") == []


def test_etag_changes_with_content_and_version(store: ProfileStore) -> None:
    v1 = store.put(profile(volume=10), "admin", T0)
    v2 = store.put(profile(volume=20), "admin", T0)
    v3 = store.put(profile(volume=10), "admin", T0)  # back to v1's body: a new version, a new ETag
    assert len({v1.etag, v2.etag, v3.etag}) == 3
    assert v1.etag.isalnum() and len(v1.etag) == 16
    assert store.put(profile(volume=10), "admin", T0).etag == v3.etag


def test_put_of_an_identical_body_is_a_no_op(store: ProfileStore) -> None:
    first = store.put(profile(lighting={"color": None, "brightness": 5}), "admin", T0)
    again = store.put(profile(lighting={"brightness": 5}), "someone-else", T0 + timedelta(hours=1))
    assert again == first
    assert len(store.versions("book-club")) == 1


def test_created_at_is_stored_in_utc(store: ProfileStore) -> None:
    local = datetime(2025, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=2)))
    version = store.put(profile(), "admin", local)
    assert version.created_at == T0 and version.created_at.utcoffset() == timedelta(0)
    assert store._db.execute("SELECT created_at FROM profile_versions").fetchone()[0] == "2025-03-01T18:00:00+00:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        store.put(profile(volume=99), "admin", datetime(2025, 3, 1))  # naive on purpose


def test_latest_all(store: ProfileStore) -> None:
    assert store.latest_all() == {}
    store.put(profile(volume=10), "admin", T0)
    store.put(profile(volume=20), "admin", T0)
    store.put(profile("house", volume=5), "admin", T0)
    assert store.latest_all() == {"book-club": profile(volume=20), "house": profile("house", volume=5)}


def test_versions_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with ProfileStore(path) as first:
        stored = first.put(profile(), "admin", T0)
    with ProfileStore(str(path)) as second:
        assert second.get("book-club") == stored


def test_concurrent_puts_get_distinct_versions(store: ProfileStore) -> None:
    def write(volume: int) -> None:
        store.put(profile(volume=volume), "admin", T0)

    threads = [threading.Thread(target=write, args=(volume,)) for volume in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(v.version for v in store.versions("book-club")) == list(range(1, 21))


def test_seed_stores_every_profile_file(tmp_path: Path, store: ProfileStore) -> None:
    folder = tmp_path / "profiles"
    profile_file(folder, "book-club.yaml", "book-club", 15)
    (folder / "house.json").write_text('{"community_id": "house", "name": "House"}', encoding="utf-8")
    profile_file(folder, "notes.txt", "ignored", 1)
    profile_file(folder, ".hidden.yaml", "hidden", 1)
    seeded = store.seed_from_dir(folder, T0)
    assert [(v.community_id, v.version, v.author) for v in seeded] == [
        ("book-club", 1, "seed:book-club.yaml"),
        ("house", 1, "seed:house.json"),
    ]
    assert set(store.latest_all()) == {"book-club", "house"}


def test_reseeding_an_unchanged_file_keeps_a_later_api_edit(tmp_path: Path, store: ProfileStore) -> None:
    folder = tmp_path / "profiles"
    profile_file(folder, "book-club.yaml", "book-club", 15)
    store.seed_from_dir(folder, T0)
    edited = store.put(profile(volume=30), "api", T0 + timedelta(hours=1))
    assert store.seed_from_dir(folder, T0 + timedelta(hours=2)) == []  # a restart
    assert store.get("book-club") == edited


def test_reseeding_stores_a_changed_file(tmp_path: Path, store: ProfileStore) -> None:
    folder = tmp_path / "profiles"
    profile_file(folder, "book-club.yaml", "book-club", 15)
    store.seed_from_dir(folder, T0)
    store.put(profile(volume=30), "api", T0 + timedelta(hours=1))
    profile_file(folder, "book-club.yaml", "book-club", 25)
    seeded = store.seed_from_dir(folder, T0 + timedelta(hours=2))
    assert [(v.version, v.author) for v in seeded] == [(3, "seed:book-club.yaml")]
    latest = store.get("book-club")
    assert latest is not None and latest.profile.audio is not None and latest.profile.audio.volume == 25
    assert store.seed_from_dir(folder, T0 + timedelta(hours=3)) == []


def test_seed_state_survives_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    profile_file(folder, "book-club.yaml", "book-club", 15)
    with ProfileStore(tmp_path / "a.db") as first:
        first.seed_from_dir(folder, T0)
        first.put(profile(volume=30), "api", T0)
    with ProfileStore(tmp_path / "a.db") as second:
        assert second.seed_from_dir(folder, T0) == []
        latest = second.get("book-club")
        assert latest is not None and latest.author == "api"


def test_a_changed_file_with_the_same_meaning_adds_no_version(tmp_path: Path, store: ProfileStore) -> None:
    folder = tmp_path / "profiles"
    path = profile_file(folder, "book-club.yaml", "book-club", 15)
    store.seed_from_dir(folder, T0)
    path.write_text(path.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    assert store.seed_from_dir(folder, T0) == []
    assert len(store.versions("book-club")) == 1


def test_an_invalid_file_names_the_file_and_stores_nothing(tmp_path: Path, store: ProfileStore) -> None:
    folder = tmp_path / "profiles"
    profile_file(folder, "a-good.yaml", "good", 15)
    bad = profile_file(folder, "b-bad.yaml", "bad", 150)
    with pytest.raises(ProfileError) as caught:
        store.seed_from_dir(folder, T0)
    assert caught.value.source == str(bad)
    assert str(caught.value) == f"{bad}: audio.volume: must be <= 100"
    assert store.latest_all() == {}


def test_unparseable_file_names_the_file(tmp_path: Path, store: ProfileStore) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "broken.yaml").write_text("community_id: [\n", encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        store.seed_from_dir(folder, T0)
    assert caught.value.source == str(folder / "broken.yaml")
    assert caught.value.errors[0].path == "(file)"


def test_two_files_for_one_community_is_an_error(tmp_path: Path, store: ProfileStore) -> None:
    folder = tmp_path / "profiles"
    profile_file(folder, "a.yaml", "book-club", 15)
    second = profile_file(folder, "b.yaml", "book-club", 20)
    with pytest.raises(ProfileError) as caught:
        store.seed_from_dir(folder, T0)
    assert str(caught.value) == f"{second}: community_id: book-club is also in a.yaml"


def test_missing_folder_is_an_error(tmp_path: Path, store: ProfileStore) -> None:
    with pytest.raises(ProfileError) as caught:
        store.seed_from_dir(tmp_path / "nope", T0)
    assert caught.value.errors[0].path == "(file)"


def test_a_source_repeating_its_last_version_does_not_roll_back_a_later_edit(store: ProfileStore) -> None:
    hub = store.put(profile(volume=20), "mqtt", T0, once_per_author=True)
    edit = store.put(profile(volume=35), "admin", T0 + timedelta(minutes=5))
    # The hub's retained message again (a venue's bridge subscribed anew): the venue's later edit stays.
    again = store.put(profile(volume=20), "mqtt", T0 + timedelta(minutes=9), once_per_author=True)
    assert again == edit
    assert [v.version for v in store.versions("book-club")] == [edit.version, hub.version]
    # Something the hub has not said before wins, even a return to an older content of someone else's.
    news = store.put(profile(volume=15), "mqtt", T0 + timedelta(minutes=12), once_per_author=True)
    assert news.version == edit.version + 1 and news.author == "mqtt"
    # Without the option (an API edit, a file), an equal body to an older version is a new version as before.
    revert = store.put(profile(volume=20), "admin", T0 + timedelta(minutes=15))
    assert revert.version == news.version + 1


# ---- If-Match: the check and the write are one step, for every writer ------------------------------------------


def test_a_stale_if_match_loses_to_a_hub_write_in_between(store: ProfileStore) -> None:
    """Before: the API checked the ETag under its own lock, then wrote; a hub write in between was overwritten."""
    read = store.put(profile(volume=10), "admin", T0)
    store.put(profile(volume=30), "mqtt", T0, once_per_author=True)  # the hub, between the read and the write
    with pytest.raises(PreconditionFailed) as failed:
        store.put_changed(profile(volume=20), "admin", T0, if_match=f'"{read.etag}"')
    assert failed.value.current is not None and failed.value.current.version == 2
    latest = store.get("book-club")
    assert latest is not None and latest.version == 2 and latest.profile.audio is not None
    assert latest.profile.audio.volume == 30


def test_of_many_writers_with_one_etag_exactly_one_wins_while_the_hub_writes_too(store: ProfileStore) -> None:
    read = store.put(profile(volume=10), "admin", T0)
    outcomes: list[str] = []
    lock = threading.Lock()

    def edit(volume: int) -> None:
        try:
            store.put_changed(profile(volume=volume), "admin", T0, if_match=f'"{read.etag}"')
            result = "won"
        except PreconditionFailed:
            result = "412"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=edit, args=(40 + i,)) for i in range(20)]
    threads.append(threading.Thread(target=store.put, args=(profile(volume=99), "mqtt", T0)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcomes.count("won") <= 1 and outcomes.count("412") >= 19
    versions = store.versions("book-club")
    assert len(versions) == 2 + outcomes.count("won")


def test_if_match_forms(store: ProfileStore) -> None:
    current = store.put(profile(), "admin", T0)
    assert etag_matches("*", current.etag) and etag_matches(current.etag, current.etag)
    assert etag_matches(f'"x", "{current.etag}"', current.etag)
    assert not etag_matches(f'W/"{current.etag}"', current.etag) and not etag_matches("*", None)
