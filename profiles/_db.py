"""Opening the venue's SQLite file for the stores of this package (profiles, communities)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def open_db(path: str | os.PathLike[str], schema: str) -> sqlite3.Connection:
    """One connection usable from any thread (callers guard it with a lock), WAL and synced on every commit, the
    store's tables created. Several stores may share the file, each with its own tables."""
    name = str(path)
    if name != ":memory:":
        Path(name).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(name, timeout=10, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(schema)
    return db
