"""The event record on a real SQLite file: durable before acknowledged, ids only grow, state in the same commit."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from controller.shell.record import (
    EventRecord,
    RecordError,
    UnstorableEvent,
    presence_delete,
    presence_upsert,
    state_set,
)

T0 = datetime(2024, 5, 1, 18, 0, tzinfo=UTC)


def test_an_appended_event_is_in_the_file_when_append_returns(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    record = EventRecord(path, "venue-1")

    async def go() -> int:
        return await record.append("checkin", {"member_id": "ana"}, T0)

    event_id = asyncio.run(go())
    # Another connection (another process would be the same) sees it committed.
    row = sqlite3.connect(path).execute("SELECT id, venue, type, payload FROM events").fetchone()
    assert row == (event_id, "venue-1", "checkin", '{"member_id":"ana"}')
    record.close()


def test_ids_only_grow_across_reopen_and_pruning(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    record = EventRecord(path, "v")
    for i in range(3):
        record.emit("device_state", {"i": i}, T0)
    assert record.flush()
    first = [e.id for e in record.read()]
    record.close()
    sqlite3.connect(path, isolation_level=None).execute("DELETE FROM events")  # what retention pruning does
    record = EventRecord(path, "v")
    record.emit("checkin", {}, T0)
    record.flush()
    assert [e.id for e in record.read()] == [first[-1] + 1]
    record.close()


def test_state_mutations_commit_with_their_event(tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "v")
    record.emit("checkin", {"member_id": "ana"}, T0, [presence_upsert("ana", "book-club", T0)])
    record.emit("checkin", {"member_id": "ben"}, T0, [presence_upsert("ben", "book-club", T0)])
    record.emit("checkout", {"member_id": "ana"}, T0, [presence_delete("ana")])
    record.emit("profile_activated", {}, T0, [state_set("activations", {"book-club": T0.isoformat()})])
    record.flush()
    assert record.presence_rows() == [("ben", "book-club", T0)]
    assert record.state("activations") == {"book-club": T0.isoformat()}
    assert [e.type for e in record.read()] == ["checkin", "checkin", "checkout", "profile_activated"]
    record.close()


def test_a_burst_is_committed_in_order_and_every_waiter_is_answered(tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "v")

    async def burst() -> list[int]:
        return list(await asyncio.gather(*(record.append("checkin", {"n": n}, T0) for n in range(2000))))

    ids = asyncio.run(burst())
    assert ids == sorted(ids) and len(set(ids)) == 2000
    assert [e.payload["n"] for e in record.iter_all("checkin")] == list(range(2000))
    record.close()


def test_read_filters_by_type_and_since(tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "v")
    for type_ in ("checkin", "command_sent", "checkin", "checkout"):
        record.emit(type_, {}, T0)
    record.flush()
    checkins = record.read(type_="checkin")
    assert [e.type for e in checkins] == ["checkin", "checkin"]
    assert [e.type for e in record.read(since=checkins[0].id)] == ["command_sent", "checkin", "checkout"]
    assert len(record.read(limit=2)) == 2
    record.close()


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "v")
    assert sqlite3.connect(tmp_path / "r.db").execute("PRAGMA journal_mode").fetchone() == ("wal",)
    record.close()


def test_prune_deletes_only_old_events_up_to_the_given_id(tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "v")
    old = [T0 - timedelta(days=100, minutes=i) for i in range(5)]
    for i, ts in enumerate(old):
        record.emit("checkin", {"i": i}, ts)
    record.emit("checkin", {"i": "new"}, T0)
    assert record.flush()
    ids = [e.id for e in record.read()]
    cutoff = T0 - timedelta(days=90)

    assert record.prune(cutoff, up_to_id=ids[2]) == 3  # the forwarder has only delivered the first three
    assert [e.id for e in record.read()] == ids[3:]
    assert record.prune(cutoff, up_to_id=ids[-1], chunk=1) == 2  # chunked: every chunk its own transaction
    assert [e.id for e in record.read()] == ids[-1:]  # the new one stays
    record.close()


def test_prune_compares_instants_not_text(tmp_path: Path) -> None:
    """Timestamps with and without microseconds, and a cutoff given in another time zone."""
    record = EventRecord(tmp_path / "r.db", "v")
    record.emit("checkin", {"i": 0}, T0)
    record.emit("checkin", {"i": 1}, T0 + timedelta(microseconds=500_000))
    assert record.flush()
    berlin = timezone(timedelta(hours=2))
    assert record.prune((T0 + timedelta(microseconds=250_000)).astimezone(berlin), up_to_id=10) == 1
    assert [e.payload["i"] for e in record.read()] == [1]
    record.close()


def test_a_failed_commit_fails_every_waiter_of_its_batch_and_nothing_more_is_accepted(tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "v")
    broken = ("INSERT INTO no_such_table VALUES (?)", (1,))

    async def batch() -> list[int | BaseException]:
        waiters = [record.append("checkin", {"n": n}, T0) for n in range(5)]
        waiters.append(record.append("checkin", {"n": 5}, T0, [broken]))
        return list(await asyncio.gather(*waiters, return_exceptions=True))

    outcomes = asyncio.run(batch())
    assert all(isinstance(o, RecordError) for o in outcomes), outcomes  # one transaction: none of them is stored
    assert record.read() == []
    with pytest.raises(RecordError):
        record.emit("checkin", {}, T0)
    record.close()


def test_a_waiter_whose_event_loop_is_gone_does_not_stop_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    record = EventRecord(path, "v")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the writer waits for the lock (busy timeout) until this commits

    async def emit_and_leave() -> None:
        record.emit("checkin", {"member_id": "ana"}, T0, durable=True)  # nobody awaits it; the loop then closes

    asyncio.run(emit_and_leave())
    blocker.execute("COMMIT")
    blocker.close()
    record.emit("checkin", {"member_id": "ben"}, T0)
    assert record.flush(10), "the writer thread died"
    assert [e.payload["member_id"] for e in record.read()] == ["ana", "ben"]
    record.close()


# ---- what the record cannot hold is refused at emit, before anything is queued ---------------------------------


@pytest.mark.parametrize(
    ("payload", "mutations"),
    [
        ({"member_id": "ana\ud800"}, []),  # a lone surrogate in the payload
        ({"member_id": "ana"}, [presence_upsert("ana\udfff", "book-club", T0)]),  # ... or in a state change
        ({"n": float("nan")}, []),  # not JSON
        ({"member_id": "ana"}, [("INSERT INTO controller_state(key, value) VALUES (?, ?)", ("k", 10**400))]),
        ({"o": object()}, []),
    ],
    ids=["payload-surrogate", "mutation-surrogate", "nan", "huge-int", "object"],
)
def test_an_event_the_record_cannot_store_is_refused_at_emit_and_the_record_goes_on(
    tmp_path: Path, payload: dict[str, object], mutations: list[tuple[str, tuple[object, ...]]]
) -> None:
    """Before: the commit failed in the writer thread and the record refused everything after (fail-stop),
    so one kiosk message stopped the venue, and stopped it again at every start."""
    record = EventRecord(tmp_path / "r.db", "venue-1")

    async def go() -> list[int]:
        with pytest.raises(UnstorableEvent):
            record.emit("checkin", payload, T0, mutations, durable=True)
        return [await record.append("checkin", {"member_id": "ana", "name": "读书会"}, T0)]

    assert asyncio.run(go()) == [1]
    assert record.failed is None
    assert [e.payload for e in record.iter_all()] == [{"member_id": "ana", "name": "读书会"}]
    record.close()


def test_a_step_whose_second_event_cannot_be_stored_queues_none_of_them(tmp_path: Path) -> None:
    """A step's events go in together or not at all: a check-in recorded without the rest of its step would be a
    half-applied input (the service adopts the step's state only if every event was accepted)."""
    record = EventRecord(tmp_path / "r.db", "venue-1")
    good = ("checkin", {"member_id": "ana"}, [presence_upsert("ana", "book-club", T0)], True)
    bad = ("checkin", {"member_id": "bo\ud800"}, [], True)

    async def go() -> None:
        with pytest.raises(UnstorableEvent):
            record.emit_all([good, bad], T0)
        futures = record.emit_all([good], T0)
        assert futures[0] is not None
        await futures[0]

    asyncio.run(go())
    assert [(e.id, e.payload) for e in record.iter_all()] == [(1, {"member_id": "ana"})]
    assert record.presence_rows() == [("ana", "book-club", T0)]
    record.close()


def test_the_database_and_its_wal_are_private_to_their_owner(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    path.touch(mode=0o644)
    path.chmod(0o644)  # an older installation's file
    record = EventRecord(path, "venue-1")
    asyncio.run(record.append("checkin", {"member_id": "ana"}, T0))
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes["r.db"] == 0o600
    assert modes["r.db-wal"] == 0o600
    record.close()


def test_a_commit_that_fails_answers_whoever_waits_with_the_error_and_stops_the_venue() -> None:
    """An HTTP check-in waiting for its event must get the error, not wait for ever while the service stops."""
    from controller.shell.recorder import Recorder

    class FailingRecord:
        pass

    async def go() -> tuple[list[str], BaseException | None, bool]:
        recorder = Recorder(FailingRecord())  # type: ignore[arg-type]
        heard: list[str] = []
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        recorder.when_durable(future, lambda: heard.append("answered"), lambda exc: heard.append(f"refused: {exc}"))
        future.set_exception(RecordError("disk full"))
        await asyncio.sleep(0)
        return heard, recorder.failure, recorder.failed.is_set()

    heard, failure, stopped = asyncio.run(go())
    assert heard == ["refused: disk full"] and isinstance(failure, RecordError) and stopped
