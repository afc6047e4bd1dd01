"""The Philips Hue driver: one `HueLink` per paired bridge, polled for its lights and sent paced commands.

What a poll says becomes observations (`devices.driver`): each configured light's capabilities, reachability and
state; a light the bridge no longer lists is offline. A bridge that fails is a `DriverFailure` with its own
words, and one that is away or refuses us takes its lights offline. Commands are narrowed to what the light can
take (a white-only bulb is not sent a colour) and go as group commands where a group of exactly those lights
exists. Observations are handed to `deliver` on the event loop; the venue core decides what they mean.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devices.capabilities import DeviceCapabilities, of_device
from devices.driver import Availability, Capabilities, Command, DriverFailure, Observation, Report, Sent
from devices.hue import device_capabilities, from_hue, supported, to_hue
from devices.hue_client import HueApiError, HueClient, HueError, HueUnauthorized, HueUnreachable
from devices.hue_link import HueLink
from devices.states import LightState
from devices.units import DEFAULT_MIRED_RANGE
from profiles.venue import DeviceConfig, VenueConfig

__all__ = ["HueDriver"]

log = logging.getLogger(__name__)

Deliver = Callable[[list[Observation]], None]
ClientFactory = Callable[[str, str], HueClient]


class HueDriver:
    name = "hue"

    def __init__(
        self,
        venue: VenueConfig,
        env: Mapping[str, str],
        deliver: Deliver,
        *,
        client: ClientFactory = HueClient,
    ) -> None:
        self._venue = venue
        self._env = env
        self._deliver = deliver
        self._client = client
        self.lights: dict[str, list[DeviceConfig]] = defaultdict(list)  # by bridge name
        self._devices: dict[str, DeviceConfig] = {}
        for device in venue.devices:
            if device.driver == "hue" and device.bridge is not None and device.light is not None:
                self.lights[device.bridge].append(device)
                self._devices[device.id] = device
        self.links: dict[str, HueLink] = {}
        self._caps: dict[str, DeviceCapabilities] = {}  # as each light's last poll described it

    def owns(self, device: DeviceConfig) -> bool:
        return device.id in self._devices

    def ready(self) -> bool:
        return True  # each link paces and queues its own bridge's commands

    def status(self) -> dict[str, Any]:
        return {name: link.status() for name, link in self.links.items()}

    async def run(self) -> None:
        """Start a link for each bridge that is paired (a bridge without its username is an error, its lights
        offline) and run them until cancelled."""
        tasks = []
        for name, lights in self.lights.items():
            settings = self._venue.hue_bridges[name]
            username = self._env.get(settings.username_env)
            if not username:
                reason = (
                    f"environment variable {settings.username_env} is not set: "
                    f"run `ambience hue pair --host {settings.host}` and export what it prints"
                )
                log.error("hue bridge %s: %s", name, reason)
                self._deliver(
                    [DriverFailure(name, "start", reason), *(Availability(d.id, False, "hue") for d in lights)]
                )
                continue
            link = HueLink(name, settings, self._client(settings.host, username), self)
            self.links[name] = link
            task = asyncio.create_task(link.run(), name=f"hue-{name}")
            task.add_done_callback(functools.partial(self._link_ended, name))
            tasks.append(task)
        try:
            await asyncio.Event().wait()  # each link runs on its own: one bridge's failure stops no other
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _link_ended(self, name: str, task: asyncio.Task[None]) -> None:
        """A link only ends by a bug: said loudly, and its lights are offline (not silently left as they were)."""
        if task.cancelled() or task.exception() is None:
            return
        log.error("hue bridge %s: its link stopped", name, exc_info=task.exception())
        self.links.pop(name, None)
        failure = DriverFailure(name, "link", f"the link stopped: {task.exception()!r}")
        self._deliver([failure, *(Availability(d.id, False, "hue") for d in self.lights[name])])

    # -- what the links report (LinkObserver), on the loop --------------------------------------------------------

    def on_poll(self, link: HueLink, lights: Mapping[str, Mapping[str, Any]]) -> None:
        seen: list[Observation] = []
        for device in self.lights[link.name]:
            light = lights.get(str(device.light))
            if light is None:
                seen.append(Availability(device.id, False, "hue"))
                continue
            caps = self._caps[device.id] = device_capabilities(light)
            state, reachable = from_hue(light)
            seen += [Capabilities(device.id, caps), Availability(device.id, reachable, "hue")]
            if reachable:
                seen.append(Report(device.id, state, live=True))
        self._deliver(seen)

    def on_error(self, link: HueLink, error: HueError, context: str) -> None:
        failure = DriverFailure(link.name, context, str(error))
        if isinstance(error, HueApiError):
            failure = DriverFailure(link.name, context, str(error), error.type, error.address, error.description)
        seen: list[Observation] = [failure]
        if isinstance(error, HueUnreachable | HueUnauthorized):
            seen += [Availability(d.id, False, "hue") for d in self.lights[link.name]]
        self._deliver(seen)

    # -- sending ---------------------------------------------------------------------------------------------------

    def send(self, commands: Sequence[Command]) -> list[Sent]:
        """One planning round's commands, per bridge: paced there, as group commands where a group fits."""
        by_bridge: dict[str, list[Command]] = defaultdict(list)
        for command in commands:
            bridge = self._devices[command.device_id].bridge
            if bridge is not None:
                by_bridge[bridge].append(command)
        sent: list[Sent] = []
        for bridge, batch in by_bridge.items():
            sent += self._send_bridge(bridge, batch)
        return sent

    def _send_bridge(self, bridge: str, commands: list[Command]) -> list[Sent]:
        link = self.links.get(bridge)
        if link is None:
            return []  # not paired: its lights are offline and never planned; reached only by a race at start
        bodies: dict[str, dict[str, Any]] = {}
        changes: list[tuple[str, LightState, str]] = []
        for command in commands:
            device = self._devices[command.device_id]
            change = command.change
            if not isinstance(change, LightState):
                continue  # a hue device is a light (the venue config refuses any other kind)
            # As the venue core sees it: the bulb's own, narrowed by the config (devices.capabilities).
            caps = of_device(device, self._caps)
            change = supported(change, caps)  # a white-only bulb is not sent a colour it would refuse
            mireds = caps.mireds or DEFAULT_MIRED_RANGE
            body = to_hue(change, command.transition_s, mireds)
            if body:
                light_id = str(device.light)
                bodies[light_id] = body
                changes.append((device.id, change, light_id))
        plan = link.submit(bodies)
        via_group = {light: gid for gid in plan.groups for light in link.groups.get(gid, ())}
        return [
            Sent(device_id, change, bodies[light_id], bridge=bridge, light=light_id, group=via_group.get(light_id))
            for device_id, change, light_id in changes
        ]
