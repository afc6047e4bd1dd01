"""Retention under a wall clock that jumped: `ambience run` under faketime, 100 days ahead, keeps the record."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.cli.broker import MosquittoBroker
from controller.shell.record import EventRecord
from testkit.waiting import wait_until_sync
from tests.e2e.cli import cli_env, started
from tests.e2e.test_cli_run import write_venue

pytestmark = pytest.mark.integration


def _faked(days: int) -> dict[str, str]:
    """The environment that moves a process's wall clock `days` ahead: libfaketime preloaded (Debian's
    `faketime` package). Not the `faketime` command: it forks and does not pass SIGTERM on to its child."""
    libraries = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not libraries:
        pytest.fail("faketime is not installed (apt-get install -y faketime; scripts/bootstrap.sh --test does)")
    return {**cli_env(), "LD_PRELOAD": str(libraries[0]), "FAKETIME": f"+{days}d"}


def test_a_clock_100_days_ahead_prunes_nothing_and_says_so(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """Before: started with the wall clock 100 days ahead, retention (90 days) pruned all history in a second."""
    venue = write_venue(tmp_path, mosquitto.url)
    db = tmp_path / "data" / "ambience.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    record = EventRecord(db, venue.venue_id)

    async def history() -> None:
        for days in (30, 10, 1):
            await record.append(
                "checkin", {"member_id": f"m{days}", "community_id": "book-club"}, now - timedelta(days)
            )

    asyncio.run(history())
    record.close()

    def rows(sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql).fetchall()

    with started("controller", ["run", "--config", str(venue.path)], tmp_path, "run", env=_faked(100)) as proc:
        held = wait_until_sync(
            lambda: rows("SELECT payload FROM events WHERE type = 'retention_held'"), 30, "retention_held", proc
        )
        assert proc.stop() == 0, proc.describe()
    assert '"ahead_s":' in str(held[0][0])
    kept = [r[0] for r in rows("SELECT payload FROM events WHERE type = 'checkin' ORDER BY id")]
    assert len(kept) == 3, kept  # every check-in of the last 30 days is still there
    assert "check the system clock" in proc.stderr
