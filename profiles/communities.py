"""The communities a venue knows, with the hash of each one's API token (the token itself is never stored).

A token has the form `<community_id>.<secret>`: the id finds the row, the secret is compared with
`hmac.compare_digest` on its SHA-256, so the comparison takes the same time whatever the guess.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime

from profiles.exceptions import AmbienceError
from profiles.sqlite import open_db

__all__ = ["Community", "CommunityExists", "CommunityStore", "hash_secret"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS communities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


class CommunityExists(AmbienceError, ValueError):
    """A community with that id is already registered."""


@dataclass(frozen=True, slots=True)
class Community:
    id: str
    name: str
    created_at: datetime


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class CommunityStore:
    """Thread-safe (one connection under a lock); may share its database file with the profile store."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = open_db(self.path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, community_id: str, name: str, now: datetime) -> tuple[Community, str]:
        """Registers a community; returns it and its token, which exists only in this return value."""
        secret = secrets.token_urlsafe(32)
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO communities (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                    (community_id, name, hash_secret(secret), now.isoformat()),
                )
        except sqlite3.IntegrityError:
            raise CommunityExists(community_id) from None
        return Community(community_id, name, now), f"{community_id}.{secret}"

    def get(self, community_id: str) -> Community | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, created_at FROM communities WHERE id = ?", (community_id,)
            ).fetchone()
        return None if row is None else Community(row[0], row[1], datetime.fromisoformat(row[2]))

    def all(self) -> list[Community]:
        with self._lock:
            rows = self._db.execute("SELECT id, name, created_at FROM communities ORDER BY id").fetchall()
        return [Community(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows]

    def authenticate(self, token: str) -> str | None:
        """The community a token belongs to, or None."""
        community_id, _, secret = token.partition(".")
        if not community_id or not secret:
            return None
        with self._lock:
            row = self._db.execute("SELECT token_hash FROM communities WHERE id = ?", (community_id,)).fetchone()
        stored = row[0] if row else hash_secret("")  # compare anyway: a miss takes as long as a wrong secret
        if hmac.compare_digest(stored, hash_secret(secret)) and row is not None:
            return community_id
        return None
