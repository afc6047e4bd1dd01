"""Opening the venue's SQLite file: the one way every store of ambience does it (event record, profiles, tokens).

WAL, synced on every commit (durable across power loss), a busy timeout so that several connections to one file
(the record's writer, the stores, retention) wait for each other instead of failing, and a file only its owner may
read: it holds member ids and token hashes. SQLite gives its `-wal` and `-shm` files the database file's mode, so
creating that file 0600 (and tightening an older one) keeps all three private.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

__all__ = ["BUSY_TIMEOUT_S", "connect", "open_db"]

BUSY_TIMEOUT_S = 30.0
"""How long a connection waits for another's write lock before giving up (a retention chunk, a profile write)."""


def _private(path: Path) -> None:
    """Create the file 0600, or take group and other access away from one that exists (and its -wal, -shm).

    An existing file is never opened here: closing any descriptor of a database file drops every POSIX lock this
    process holds on it, including those of SQLite connections that are open (SQLite's own warning)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection usable from any thread (callers guard it), in autocommit mode: transactions are explicit.

    Raises `sqlite3.DatabaseError` at once for a file that is not a database or is damaged, because switching
    to WAL reads its header and schema."""
    name = str(path)
    if name != ":memory:":
        _private(Path(name))
    db = sqlite3.connect(name, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    except BaseException:
        db.close()
        raise
    return db


def open_db(path: str | os.PathLike[str], schema: str) -> sqlite3.Connection:
    """`connect`, with the store's tables created. Several stores may share the file, each with its own tables."""
    db = connect(path)
    db.executescript(schema)
    return db
