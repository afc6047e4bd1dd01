"""The API's port: the narrow surface of the venue the routes may use, so the API never reaches into the
service's parts. `controller.shell.service.Service` is the one implementation; the views are pure functions of
`state` (`controller.core.views`).

    read       state (the venue core's state value), knows, health, mqtt_connected, forwarder_lag, stats, clock
    write      check_in, check_out, force_profile, put_profile: the same inputs as MQTT, answered once durable
    stores     record, store, communities (None until the service runs: routes answer 503)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from controller.core.presence import CheckIn
from controller.core.state import VenueState
from controller.shell.forwarder import InfluxForwarder
from controller.shell.record import EventRecord
from controller.shell.stats import Stats
from profiles.communities import CommunityStore
from profiles.profile import Profile
from profiles.store import ProfileStore, ProfileVersion

__all__ = ["VenuePort"]


class VenuePort(Protocol):
    @property
    def state(self) -> VenueState: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def stats(self) -> Stats: ...

    @property
    def record(self) -> EventRecord | None: ...

    @property
    def store(self) -> ProfileStore | None: ...

    @property
    def communities(self) -> CommunityStore | None: ...

    @property
    def forwarder(self) -> InfluxForwarder | None: ...

    def knows(self, community_id: str) -> bool: ...

    def health(self) -> dict[str, Any]: ...

    def mqtt_connected(self) -> bool: ...

    def forwarder_lag(self) -> int: ...

    async def check_in(self, member_id: str, community_id: str, source: str = "http") -> CheckIn: ...

    async def check_out(self, member_id: str, source: str = "http") -> bool: ...

    async def force_profile(self, community_id: str | None, source: str = "http") -> None: ...

    async def put_profile(self, profile: Profile, author: str, if_match: str | None = None) -> ProfileVersion: ...
