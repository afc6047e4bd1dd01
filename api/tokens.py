"""Recent answers of the community store to "whose token is this?", so a request need not ask it every time.

Asking costs a worker thread and a SQLite read under the store's lock, and every request under `/api/v1` asks before
its body is read (api/gate.py, which hands the answer on to the route's dependency in api/deps.py): a dashboard
polling with its token, or a client repeating a wrong one, is answered from here. Entries are keyed by the token's
SHA-256, never the token itself, and live `TTL_S`: tokens are never revoked through the API, so that only bounds how
long an edit of the store behind the service's back takes to be seen. Valid and invalid answers are kept apart, each
bounded, so a flood of distinct wrong tokens evicts only other wrong ones.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["SIZE", "TTL_S", "TokenCache"]

TTL_S = 60.0
"""How long an answer is trusted."""

SIZE = 1024
"""Answers kept of each kind (valid, invalid); the least recently used go first."""

_Key = bytes


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[_Key, tuple[float, str | None]] = OrderedDict()

    def get(self, key: _Key, now: float) -> tuple[bool, str | None]:
        entry = self.entries.get(key)
        if entry is None:
            return False, None
        expires, community_id = entry
        if now >= expires:
            del self.entries[key]
            return False, None
        self.entries.move_to_end(key)
        return True, community_id

    def put(self, key: _Key, community_id: str | None, expires: float) -> None:
        self.entries[key] = (expires, community_id)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


class TokenCache:
    """Which community a token belongs to (None: to none), as the store last said; not thread-safe (the loop's)."""

    def __init__(self, ttl_s: float = TTL_S, size: int = SIZE, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._valid = _Lru(size)
        self._invalid = _Lru(size)

    @staticmethod
    def _key(token: str) -> _Key:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> tuple[bool, str | None]:
        """(True, its community or None) if the store answered for this token within the TTL, else (False, None)."""
        key, now = self._key(token), self._clock()
        found = self._valid.get(key, now)
        return found if found[0] else self._invalid.get(key, now)

    def put(self, token: str, community_id: str | None) -> None:
        """Remember the store's answer for `token`."""
        key = self._key(token)
        other, kept = (self._invalid, self._valid) if community_id is not None else (self._valid, self._invalid)
        other.entries.pop(key, None)
        kept.put(key, community_id, self._clock() + self._ttl_s)
