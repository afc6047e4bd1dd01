"""Every version of every community's profile, in SQLite (WAL, synchronous=FULL).

Versions are never overwritten: an edit adds version n+1, so the API can list history and a bad edit can be
undone by putting an old body back. A body is stored in canonical form (`canonical_json`), so a write that
means the same as the latest version is not a new version and keeps its ETag.

Profile files in the venue's `profiles_dir` seed the store at start, but only when a file changed since it
was last seeded: otherwise every restart would undo edits made through the API (or received from the hub).
The store may share its database file with the event record; its tables are prefixed `profile_`.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from profiles.errors import ProfileError
from profiles.exceptions import AmbienceError
from profiles.loader import FILE, JSON_SUFFIXES, YAML_SUFFIXES, parse_profile, read_document
from profiles.profile import Profile, canonical_json
from profiles.sqlite import open_db

__all__ = ["PreconditionFailed", "ProfileStore", "ProfileVersion", "etag_matches"]

ETAG_LENGTH = 16
SEED_AUTHOR_PREFIX = "seed:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profile_versions (
    community_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    etag TEXT NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (community_id, version)
);
CREATE TABLE IF NOT EXISTS profile_seeds (
    file_name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    seeded_at TEXT NOT NULL
);
"""

_COLUMNS = "community_id, version, etag, body, author, created_at"
_LATEST = f"SELECT {_COLUMNS} FROM profile_versions WHERE community_id = ? ORDER BY version DESC LIMIT 1"
_LATEST_BODY_BY = (
    "SELECT body FROM profile_versions WHERE community_id = ? AND author = ? ORDER BY version DESC LIMIT 1"
)
_LATEST_ALL = (
    f"SELECT {_COLUMNS} FROM profile_versions AS v"
    " WHERE version = (SELECT MAX(version) FROM profile_versions WHERE community_id = v.community_id)"
    " ORDER BY community_id"
)
_SEEN_FILE = (
    "INSERT INTO profile_seeds (file_name, sha256, seeded_at) VALUES (?, ?, ?)"
    " ON CONFLICT (file_name) DO UPDATE SET sha256 = excluded.sha256, seeded_at = excluded.seeded_at"
)

_Row = tuple[str, int, str, str, str, str]


def etag_matches(header: str, etag: str | None) -> bool:
    """`If-Match` by RFC 9110's strong comparison: `*` matches any current version, a list matches if one entry
    does. A bare (unquoted) ETag is accepted too, for clients that strip the quotes; weak tags never match."""
    if etag is None:
        return False
    tags = {tag.strip() for tag in header.split(",")}
    return bool(tags & {"*", f'"{etag}"', etag})


class PreconditionFailed(AmbienceError):
    """The `If-Match` a writer gave no longer matches the latest version (`current`, None if there is none)."""

    def __init__(self, current: ProfileVersion | None) -> None:
        super().__init__("the profile changed since it was read")
        self.current = current


@dataclass(frozen=True, slots=True)
class ProfileVersion:
    """One stored version of a community's profile; `etag` is what HTTP `ETag`/`If-Match` carry (unquoted)."""

    community_id: str
    version: int
    etag: str
    profile: Profile
    author: str
    created_at: datetime


def _etag(version: int, body: str) -> str:
    """Content plus version: equal bodies at two versions differ, so `If-Match` catches a revert race."""
    return hashlib.sha256(f"{version}\n{body}".encode()).hexdigest()[:ETAG_LENGTH]


def _utc_iso(now: datetime) -> str:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (datetime.now(UTC))")
    return now.astimezone(UTC).isoformat()


def _version(row: _Row) -> ProfileVersion:
    community_id, version, etag, body, author, created_at = row
    return ProfileVersion(
        community_id=community_id,
        version=version,
        etag=etag,
        profile=Profile.model_validate_json(body),
        author=author,
        created_at=datetime.fromisoformat(created_at),
    )


class ProfileStore:
    """Thread-safe: one connection, used under a lock, so the service can call it from worker threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = open_db(self.path, _SCHEMA)

    def __enter__(self) -> ProfileStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` takes the write lock up front, so reading the latest version and inserting the
        next one cannot interleave with another writer (another thread or process on the same file)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def put(self, profile: Profile, author: str, now: datetime, *, once_per_author: bool = False) -> ProfileVersion:
        """Store `profile` as its community's next version; if it equals the latest, return that instead.

        `once_per_author`: also keep the latest when this author's own latest version has this content. A source
        that repeats itself (the hub's retained message, delivered again whenever a venue's bridge subscribes
        anew) then never rolls back a newer edit made elsewhere, while anything new it says still wins."""
        return self.put_changed(profile, author, now, once_per_author=once_per_author)[0]

    def put_changed(
        self,
        profile: Profile,
        author: str,
        now: datetime,
        *,
        once_per_author: bool = False,
        if_match: str | None = None,
    ) -> tuple[ProfileVersion, bool]:
        """`put`, and whether it stored a new version: decided in the same transaction, so two writers of one body
        cannot both believe they changed it.

        `if_match` (an `If-Match` header): checked against the latest version inside that transaction, so the
        check and the write are one step for every writer (HTTP, the hub, seeding); `PreconditionFailed` if not."""
        body = canonical_json(profile)
        created_at = _utc_iso(now)
        with self._transaction() as db:
            latest: _Row | None = db.execute(_LATEST, (profile.community_id,)).fetchone()
            if if_match is not None and not etag_matches(if_match, latest[2] if latest is not None else None):
                raise PreconditionFailed(_version(latest) if latest is not None else None)
            if latest is not None and latest[3] == body:
                return _version(latest), False
            if latest is not None and once_per_author:
                by_author: tuple[str] | None = db.execute(_LATEST_BODY_BY, (profile.community_id, author)).fetchone()
                if by_author is not None and by_author[0] == body:
                    return _version(latest), False
            version = 1 if latest is None else latest[1] + 1
            row: _Row = (profile.community_id, version, _etag(version, body), body, author, created_at)
            db.execute(f"INSERT INTO profile_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", row)
        return _version(row), True

    def get(self, community_id: str) -> ProfileVersion | None:
        """The latest version, or None when the community has no profile."""
        with self._lock:
            row: _Row | None = self._db.execute(_LATEST, (community_id,)).fetchone()
        return None if row is None else _version(row)

    def versions(self, community_id: str) -> list[ProfileVersion]:
        """Every version of the community's profile, newest first."""
        with self._lock:
            rows: list[_Row] = self._db.execute(
                f"SELECT {_COLUMNS} FROM profile_versions WHERE community_id = ? ORDER BY version DESC",
                (community_id,),
            ).fetchall()
        return [_version(row) for row in rows]

    def latest_all(self) -> dict[str, Profile]:
        """The latest profile of every community, by community id."""
        with self._lock:
            rows: list[_Row] = self._db.execute(_LATEST_ALL).fetchall()
        return {row[0]: _version(row).profile for row in rows}

    def seed_from_dir(self, directory: str | os.PathLike[str], now: datetime) -> list[ProfileVersion]:
        """Store each profile file of `directory` whose content changed since it was last seeded.

        All files are validated before anything is stored, so one bad file stores nothing and the raised
        `ProfileError` names it. Returns the versions this call added (a changed file whose profile equals
        the latest version adds none). Files are tracked by name, so moving the folder does not reseed.
        """
        folder = Path(directory)
        if not folder.is_dir():
            raise ProfileError.single(FILE, "not a folder of profile files", str(folder))
        files = sorted(
            path
            for path in folder.iterdir()
            if path.suffix.lower() in YAML_SUFFIXES + JSON_SUFFIXES and not path.name.startswith(".") and path.is_file()
        )
        found: list[tuple[Path, str, Profile]] = []
        owners: dict[str, Path] = {}
        for path in files:
            raw, data = read_document(path)
            try:
                profile = parse_profile(data)
            except ProfileError as exc:
                raise ProfileError(exc.errors, str(path)) from None
            if profile.community_id in owners:
                raise ProfileError.single(
                    "community_id",
                    f"{profile.community_id} is also in {owners[profile.community_id].name}",
                    str(path),
                )
            owners[profile.community_id] = path
            found.append((path, hashlib.sha256(raw).hexdigest(), profile))

        with self._lock:
            seeded = dict(self._db.execute("SELECT file_name, sha256 FROM profile_seeds").fetchall())
        added: list[ProfileVersion] = []
        for path, sha, profile in found:
            if seeded.get(path.name) == sha:
                continue
            version, created = self.put_changed(profile, SEED_AUTHOR_PREFIX + path.name, now)
            if created:
                added.append(version)
            with self._transaction() as db:
                db.execute(
                    _SEEN_FILE,
                    (path.name, sha, _utc_iso(now)),
                )
        return added
