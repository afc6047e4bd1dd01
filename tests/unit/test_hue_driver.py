"""The Hue driver on its own: a link that dies by a bug is said loudly and takes only its own lights offline."""

from __future__ import annotations

import asyncio
from typing import Any

from devices.driver import Availability, DriverFailure, Observation
from devices.hue_driver import HueDriver
from profiles.loader import parse_venue

VENUE = parse_venue(
    {
        "venue": {"id": "v", "name": "V"},
        "zones": ["bar"],
        "hue_bridges": {
            "good": {"host": "127.0.0.1", "username_env": "U"},
            "bad": {"host": "127.0.0.2", "username_env": "U"},
        },
        "devices": [
            {"id": "a", "kind": "light", "zone": "bar", "driver": "hue", "bridge": "good", "light": 1},
            {"id": "b", "kind": "light", "zone": "bar", "driver": "hue", "bridge": "bad", "light": 1},
        ],
    }
)


class Client:
    def __init__(self, host: str, _username: str) -> None:
        self.host = host

    def groups(self) -> dict[str, Any]:
        return {}

    def lights(self) -> dict[str, Any]:
        if self.host == "127.0.0.2":
            raise RuntimeError("a bug in the bad bridge's link")
        return {"1": {"state": {"on": True, "bri": 254, "reachable": True}}}


def test_one_bridge_whose_link_dies_takes_only_its_own_lights_offline() -> None:
    seen: list[Observation] = []

    async def go() -> None:
        driver = HueDriver(VENUE, {"U": "user"}, seen.extend, client=Client)  # type: ignore[arg-type]
        task = asyncio.create_task(driver.run())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if any(isinstance(s, DriverFailure) for s in seen) and any(
                getattr(s, "device_id", "") == "a" for s in seen
            ):
                break
        assert not task.done(), "the driver stopped with the bad bridge"
        assert "good" in driver.links and "bad" not in driver.links
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(go())
    failures = [s for s in seen if isinstance(s, DriverFailure)]
    assert [f.link for f in failures] == ["bad"] and "a bug in the bad bridge" in failures[0].message
    assert Availability("b", False, "hue") in seen and Availability("a", True, "hue") in seen
