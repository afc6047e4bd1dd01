"""`ambience run` with a damaged event record: one clear line and exit 1, never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from controller.cli.broker import MosquittoBroker
from tests.e2e.cli import ambience, lines
from tests.e2e.test_cli_run import write_venue

pytestmark = pytest.mark.integration


def _damage(db: Path, how: str) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    if how == "garbage":
        db.write_bytes(bytes(range(256)) * 80)
        return
    with sqlite3.connect(db) as conn:  # a real record, then cut short
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT)")
        conn.executemany("INSERT INTO events (payload) VALUES (?)", [("x" * 1000,)] * 3000)
    db.write_bytes(db.read_bytes()[:100_000])


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_a_damaged_database_is_one_line_and_exit_1(mosquitto: MosquittoBroker, tmp_path: Path, how: str) -> None:
    """Before: a 30-line traceback from deep inside the record."""
    venue = write_venue(tmp_path, mosquitto.url)
    db = tmp_path / "data" / "ambience.db"
    _damage(db, how)
    done = ambience("run", "--config", str(venue.path), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in lines(done.stderr) if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: store.path: "), done.stderr
    assert "is not a readable SQLite database" in errors[0] and "backup" in errors[0]
