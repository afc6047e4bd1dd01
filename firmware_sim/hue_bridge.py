"""A Philips Hue bridge (the v1 HTTP API subset that `phue` uses) on loopback, for tests, the demo and operators.

Written from the Hue v1 protocol, not from our driver, so that a mistake in `devices/` cannot cancel out against the
same mistake here. Standard library only: `ThreadingHTTPServer`, one lock around the state.

    groups = {"1": {"name": "lounge", "lights": ["1", "2"]}}
    with HueBridgeEmulator(lights={"1": {"name": "Lounge lamp"}, "2": {}}, groups=groups) as hue:
        bridge = phue.Bridge(hue.address, username=hue.username, config_file_path=tmp / "hue.json")

Routes (every one with or without a trailing slash; `<u>` is a whitelisted username):

    POST /api                             register {"devicetype"}: 101 unless the link button was pressed <= 30 s ago
    GET  /api/config, /api/<any>/config   the public part of the config, no user needed (as on a real bridge)
    GET  /api/<u>                         full state: lights, groups, config; empty scenes, sensors, schedules, ...
    GET  /api/<u>/lights[/<id>]           PUT /api/<u>/lights/<id> {"name"}
    PUT  /api/<u>/lights/<id>/state       on, bri, ct, xy, hue, sat, effect, alert, transitiontime
    GET  /api/<u>/groups[/<id>]           group 0 (every light) answers by id but is not listed, as on a real bridge
    PUT  /api/<u>/groups/<id>             {"name"}, {"lights"}
    PUT  /api/<u>/groups/<id>/action      the state parameters, applied to each member light
    GET  /api/<u>/config                  PUT {"name"}
    GET  /api/<u>/sensors|scenes|schedules|rules|resourcelinks   {}

Answers are HTTP 200 with JSON, errors included: a list with one success or error entry per parameter,
`[{"success": {"/lights/1/state/bri": 200}}]`, `[{"error": {"type": 3, "address": "/lights/9", "description":
"resource, /lights/9, not available"}}]`. Error types used: 1 unauthorized user, 2 body contains invalid JSON,
3 resource not available, 4 method not available for resource, 5 invalid/missing parameters in body, 6 parameter
not available (unknown, or not a capability of this light type), 7 invalid value, 8 parameter not modifiable
(group 0), 101 link button not pressed, 201 parameter not modifiable while the device is off, 901 internal error
(rate limit, and the default of `fail_next`).

Semantics copied from real bridges: bri/ct/xy/hue/sat/effect on a light that is off are refused (201) unless the
same body switches it on; ct is clamped to the light's range and the success entry reports the clamped value; a
group action answers success even for members that are off (they ignore what needs them on); an unreachable light
answers success and nothing happens. The rate limit (`enforce_rate_limit=True`, more than 10 light commands or 1
group command in any 1 s) answers `[{"error": {"type": 901, ..., "description": "Internal error, 503"}}]` with
HTTP 200 by default (`rate_limit_status=429` for newer firmware's status code; phue ignores the status and returns
the body either way) and does not apply the command.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import secrets
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from firmware_sim.color import MIRED_MAX, MIRED_MIN, mired_to_xy

log = logging.getLogger(__name__)

CommandKind = Literal["light", "group"]
Outcome = Literal["answered", "rate_limited", "failed"]

LINK_WINDOW_S = 30.0
LIGHT_COMMANDS_PER_S = 10
GROUP_COMMANDS_PER_S = 1
POWER_ON_MIRED = 366  # what a Hue bulb shows after power-on: warm white, full brightness

# Hue v1 error types (developers.meethue.com, "Error messages").
UNAUTHORIZED = 1
INVALID_JSON = 2
NOT_AVAILABLE = 3
METHOD_NOT_AVAILABLE = 4
MISSING_PARAMETERS = 5
PARAMETER_NOT_AVAILABLE = 6
INVALID_VALUE = 7
NOT_MODIFIABLE = 8
LINK_BUTTON_NOT_PRESSED = 101
DEVICE_OFF = 201
INTERNAL_ERROR = 901

_EMPTY_RESOURCES = frozenset({"sensors", "scenes", "schedules", "rules", "resourcelinks"})
_INVALID = object()


@dataclass(frozen=True)
class LightType:
    """What a v1 light type can do: its capabilities decide its state keys and the parameters it accepts."""

    capabilities: frozenset[str]
    modelid: str
    productname: str


LIGHT_TYPES: dict[str, LightType] = {
    "Extended color light": LightType(frozenset({"bri", "ct", "xy", "hs"}), "LCT015", "Hue color lamp"),
    "Color light": LightType(frozenset({"bri", "xy", "hs"}), "LLC020", "Hue go"),
    "Color temperature light": LightType(frozenset({"bri", "ct"}), "LTW010", "Hue ambiance lamp"),
    "Dimmable light": LightType(frozenset({"bri"}), "LWB010", "Hue white lamp"),
    "On/Off plug-in unit": LightType(frozenset(), "LOM001", "Hue smart plug"),
}
_ALL_CAPABILITIES = frozenset({"bri", "ct", "xy", "hs"})


def _uint(lo: int, hi: int) -> Callable[[Any], object]:
    def check(value: Any) -> object:
        ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
        return value if ok else _INVALID

    return check


def _boolean(value: Any) -> object:
    return value if isinstance(value, bool) else _INVALID


def _one_of(*choices: str) -> Callable[[Any], object]:
    def check(value: Any) -> object:
        return value if value in choices else _INVALID

    return check


def _xy(value: Any) -> object:
    """Two CIE coordinates in 0..1, reported to 4 decimals as bridges do."""
    if not isinstance(value, list) or len(value) != 2:
        return _INVALID
    if not all(isinstance(c, int | float) and not isinstance(c, bool) and 0 <= c <= 1 for c in value):
        return _INVALID
    return [round(float(c), 4) for c in value]


@dataclass(frozen=True)
class _Param:
    """A state/action parameter: the capability it needs (None: every light), its check, refused while off."""

    needs: str | None
    check: Callable[[Any], object]
    needs_on: bool


_PARAMS: dict[str, _Param] = {
    "on": _Param(None, _boolean, needs_on=False),
    "bri": _Param("bri", _uint(1, 254), needs_on=True),
    "ct": _Param("ct", _uint(0, 65535), needs_on=True),  # then clamped to the light's range
    "xy": _Param("xy", _xy, needs_on=True),
    "hue": _Param("hs", _uint(0, 65535), needs_on=True),
    "sat": _Param("hs", _uint(0, 254), needs_on=True),
    "effect": _Param("hs", _one_of("none", "colorloop"), needs_on=True),
    "alert": _Param(None, _one_of("none", "select", "lselect"), needs_on=False),
    "transitiontime": _Param(None, _uint(0, 65535), needs_on=False),  # deciseconds; answered, not stored
}


def hue_error(error_type: int, address: str, description: str) -> dict[str, Any]:
    """One error entry as a bridge writes it."""
    return {"error": {"type": error_type, "address": address, "description": description}}


def _success(address: str, value: Any) -> dict[str, Any]:
    return {"success": {address: value}}


def _render(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _not_available(address: str) -> list[dict[str, Any]]:
    return [hue_error(NOT_AVAILABLE, address, f"resource, {address}, not available")]


def peak_count(times: Sequence[float], window_s: float = 1.0) -> int:
    """Most events in any half-open window [t, t + window_s): what a limit of N per window has to allow."""
    ordered = sorted(times)
    best = start = 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def _evaluate(
    body: Mapping[str, Any], capabilities: frozenset[str], is_on: bool, ct_range: tuple[int, int], prefix: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each parameter checked as a bridge does, in body order: one success or error entry each, and what passed.

    Checks: known to this light (6), valid value (7), light on or switched on by the same body (201).
    """
    switching_on = body.get("on") is True
    results: list[dict[str, Any]] = []
    accepted: dict[str, Any] = {}
    for key, raw in body.items():
        address = f"{prefix}/{key}"
        param = _PARAMS.get(key)
        if param is None or (param.needs is not None and param.needs not in capabilities):
            results.append(hue_error(PARAMETER_NOT_AVAILABLE, address, f"parameter, {key}, not available"))
            continue
        value = param.check(raw)
        if value is _INVALID:
            description = f"invalid value, {_render(raw)} , for parameter, {key}"
            results.append(hue_error(INVALID_VALUE, address, description))
            continue
        if param.needs_on and not (is_on or switching_on):
            description = f"parameter, {key}, is not modifiable. Device is set to off."
            results.append(hue_error(DEVICE_OFF, address, description))
            continue
        if key == "ct":
            value = max(ct_range[0], min(ct_range[1], int(raw)))
        accepted[key] = value
        results.append(_success(address, value))
    return results, accepted


def _apply(state: dict[str, Any], changes: Mapping[str, Any], ct_range: tuple[int, int]) -> None:
    """Checked changes into a light state or group action; keys the state lacks are what this light cannot show.

    The colour mode follows the bridge's precedence (xy over ct over hue/sat); a ct change also moves the
    reported xy to the matching point, as Hue bulbs report an xy in every mode.
    """
    for key, value in changes.items():
        if key in state and key in _PARAMS:
            state[key] = max(ct_range[0], min(ct_range[1], value)) if key == "ct" else copy.copy(value)
    if "colormode" not in state:
        return
    if "xy" in changes and "xy" in state:
        state["colormode"] = "xy"
    elif "ct" in changes and "ct" in state:
        state["colormode"] = "ct"
        if "xy" in state:
            state["xy"] = list(mired_to_xy(state["ct"]))
    elif ("hue" in changes or "sat" in changes) and "hue" in state:
        state["colormode"] = "hs"


def _power_on_state(capabilities: frozenset[str], ct_range: tuple[int, int]) -> dict[str, Any]:
    """A Hue bulb after power-on: on, full brightness, warm white."""
    ct = max(ct_range[0], min(ct_range[1], POWER_ON_MIRED))
    state: dict[str, Any] = {"on": True}
    if "bri" in capabilities:
        state["bri"] = 254
    if "hs" in capabilities:
        state.update(hue=8417, sat=140, effect="none")
    if "xy" in capabilities:
        state["xy"] = list(mired_to_xy(ct))
    if "ct" in capabilities:
        state["ct"] = ct
    state["alert"] = "none"
    if capabilities & {"ct", "xy", "hs"}:
        state["colormode"] = "ct" if "ct" in capabilities else "xy"
    state.update(mode="homeautomation", reachable=True)
    return state


@dataclass
class _Light:
    name: str
    type: str
    modelid: str
    uniqueid: str
    swversion: str
    ct_range: tuple[int, int]
    state: dict[str, Any]

    @property
    def capabilities(self) -> frozenset[str]:
        return LIGHT_TYPES[self.type].capabilities

    def set_fields(self, fields: Mapping[str, Any], where: str) -> None:
        """A change that does not go through the API (construction, the Hue app): checked, never refused as off."""
        fields = dict(fields)
        reachable = fields.pop("reachable", None)
        if reachable is not None and not isinstance(reachable, bool):
            raise ValueError(f"{where}.reachable: must be a bool, got {reachable!r}")
        _, accepted = _evaluate(fields, self.capabilities, True, self.ct_range, "")
        wrong = sorted(set(fields) - set(accepted) - {"transitiontime"})
        if wrong:
            raise ValueError(f"{where}: invalid or unsupported for {self.type!r}: " + ", ".join(wrong))
        _apply(self.state, accepted, self.ct_range)
        if reachable is not None:
            self.state["reachable"] = reachable

    def as_json(self) -> dict[str, Any]:
        kind = LIGHT_TYPES[self.type]
        control: dict[str, Any] = {"mindimlevel": 1000, "maxlumen": 806}
        if "xy" in kind.capabilities:
            control.update(colorgamuttype="C", colorgamut=[[0.6915, 0.3083], [0.17, 0.7], [0.1532, 0.0475]])
        if "ct" in kind.capabilities:
            control["ct"] = {"min": self.ct_range[0], "max": self.ct_range[1]}
        return {
            "state": copy.deepcopy(self.state),
            "swupdate": {"state": "noupdates", "lastinstall": None},
            "type": self.type,
            "name": self.name,
            "modelid": self.modelid,
            "manufacturername": "Signify Netherlands B.V.",
            "productname": kind.productname,
            "capabilities": {"certified": True, "control": control, "streaming": {"renderer": True, "proxy": True}},
            "config": {"archetype": "classicbulb", "function": "mixed", "direction": "omnidirectional"},
            "uniqueid": self.uniqueid,
            "swversion": self.swversion,
        }


@dataclass
class _Group:
    name: str
    lights: list[str]
    type: str
    room_class: str | None
    action: dict[str, Any]

    def as_json(self, lights: Mapping[str, _Light]) -> dict[str, Any]:
        on = [lights[i].state["on"] for i in self.lights]
        body: dict[str, Any] = {
            "name": self.name,
            "lights": list(self.lights),
            "sensors": [],
            "type": self.type,
            "state": {"all_on": bool(on) and all(on), "any_on": any(on)},
            "recycle": False,
            "action": copy.deepcopy(self.action),
        }
        if self.room_class is not None:
            body["class"] = self.room_class
        return body


@dataclass(frozen=True)
class Command:
    """One light-state or group-action PUT as received: when, to what, the parsed body (None if invalid JSON)."""

    at: float
    kind: CommandKind
    target: str
    body: Any
    outcome: Outcome  # answered (per-parameter results), rate_limited or failed (fail_next) without applying


@dataclass
class _Failure:
    error_type: int
    description: str
    status: int


@dataclass
class _User:
    devicetype: str
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))


_LIGHT_SPEC_KEYS = frozenset({"name", "type", "modelid", "uniqueid", "swversion", "ct_min", "ct_max", "state"})
_GROUP_SPEC_KEYS = frozenset({"name", "lights", "type", "class"})


def _check_id(kind: str, key: str) -> None:
    # phue turns ids into ints (`int(light)` in get_light_objects), and so do real bridges' ids look
    if not (isinstance(key, str) and key.isdigit() and key != "0"):
        raise ValueError(f"{kind}.{key!r}: ids are positive decimal strings like '1'")


def _build_light(light_id: str, spec: Mapping[str, Any]) -> _Light:
    where = f"lights.{light_id}"
    _check_id("lights", light_id)
    unknown = sorted(set(spec) - _LIGHT_SPEC_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    type_name = spec.get("type", "Extended color light")
    if type_name not in LIGHT_TYPES:
        raise ValueError(f"{where}.type: one of {', '.join(LIGHT_TYPES)}")
    kind = LIGHT_TYPES[type_name]
    ct_range = (int(spec.get("ct_min", MIRED_MIN)), int(spec.get("ct_max", MIRED_MAX)))
    if not 0 < ct_range[0] <= ct_range[1]:
        raise ValueError(f"{where}: ct_min must be positive and <= ct_max")
    number = int(light_id)
    light = _Light(
        name=str(spec.get("name", f"{kind.productname} {light_id}")),
        type=type_name,
        modelid=str(spec.get("modelid", kind.modelid)),
        uniqueid=str(spec.get("uniqueid", f"00:17:88:01:00:{number // 256 % 256:02x}:{number % 256:02x}:00-0b")),
        swversion=str(spec.get("swversion", "1.104.2")),
        ct_range=ct_range,
        state=_power_on_state(kind.capabilities, ct_range),
    )
    light.set_fields(spec.get("state", {}), f"{where}.state")
    return light


def _group_action(members: Sequence[_Light]) -> dict[str, Any]:
    """A new group's `action`: its first member's look, with every key a group action reports."""
    action = _power_on_state(_ALL_CAPABILITIES, (MIRED_MIN, MIRED_MAX))
    if members:
        action.update({k: copy.copy(v) for k, v in members[0].state.items() if k in action})
    action["on"] = any(light.state["on"] for light in members)
    for key in ("mode", "reachable"):
        action.pop(key)
    return action


class _Server(ThreadingHTTPServer):
    """The HTTP side: tracks open (keep-alive) connections, so that `stop()` really makes the bridge go away."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: HueBridgeEmulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can wait seconds for DNS; the name is never used
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is dropped after this, so no thread waits forever

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def _answer(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            status, payload = self.server.emulator.handle_request(method, self.path, raw)
        except Exception:
            log.exception("hue bridge emulator: %s %s failed", method, self.path)
            status, payload = 500, [hue_error(INTERNAL_ERROR, "", "Internal error, 500")]
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class HueBridgeEmulator:
    """A Hue bridge on loopback that phue (or any v1 client) can register with, read and command.

    Not listening until `start()` (or `with`); `stop()` closes the port and every open connection, `start()` opens
    the same port again, so tests can make the bridge go away and come back. Every light-state and group-action
    PUT is timed with `clock` (injectable, monotonic seconds) for `peak_rate` and the optional rate limit.
    """

    def __init__(
        self,
        lights: Mapping[str, Mapping[str, Any]] | int = 1,
        groups: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str | None = None,
        auto_link: bool = False,
        enforce_rate_limit: bool = False,
        light_limit: int = LIGHT_COMMANDS_PER_S,
        group_limit: int = GROUP_COMMANDS_PER_S,
        rate_window_s: float = 1.0,
        rate_limit_status: int = 200,
        clock: Callable[[], float] = time.monotonic,
        name: str = "Hue emulator",
    ) -> None:
        specs = {str(i): {} for i in range(1, lights + 1)} if isinstance(lights, int) else dict(lights)
        self._lights: dict[str, _Light] = {key: _build_light(key, spec) for key, spec in specs.items()}
        self._groups: dict[str, _Group] = {
            "0": _Group("Group 0", list(self._lights), "LightGroup", None, _group_action(list(self._lights.values())))
        }
        for key, spec in (groups or {}).items():
            self._groups[key] = self._build_group(key, spec)
        self._host = host
        self._port = port
        self.name = name
        self.username = username or secrets.token_hex(20)
        self._users: dict[str, _User] = {self.username: _User("preconfigured")}
        self.auto_link = auto_link
        self.enforce_rate_limit = enforce_rate_limit
        self._limits: dict[CommandKind, int] = {"light": light_limit, "group": group_limit}
        self._window_s = rate_window_s
        self._rate_limit_status = rate_limit_status
        self._clock = clock
        self._link_pressed_at: float | None = None
        self._times: dict[CommandKind, list[float]] = {"light": [], "group": []}
        self._admitted: dict[CommandKind, deque[float]] = {"light": deque(), "group": deque()}
        self._rejected: dict[CommandKind, int] = {"light": 0, "group": 0}
        self._commands: list[Command] = []
        self._failures: deque[_Failure] = deque()
        self._lock = threading.RLock()
        self._lifecycle = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _build_group(self, group_id: str, spec: Mapping[str, Any]) -> _Group:
        where = f"groups.{group_id}"
        _check_id("groups", group_id)
        unknown = sorted(set(spec) - _GROUP_SPEC_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
        members = [str(m) for m in spec.get("lights", [])]
        missing = [m for m in members if m not in self._lights]
        if missing:
            raise ValueError(f"{where}.lights: no such light(s) {', '.join(missing)}")
        group_type = str(spec.get("type", "LightGroup"))
        room_class = spec.get("class", "Living room" if group_type in ("Room", "Zone") else None)
        name = str(spec.get("name", f"Group {group_id}"))
        return _Group(name, members, group_type, room_class, _group_action([self._lights[m] for m in members]))

    # -- lifetime -------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen (again): on the constructor's port, or the one first chosen when that was 0."""
        with self._lifecycle:
            if self._server is not None:
                return self
            server = _Server((self._host, self._port), self)
            self._port = int(server.server_address[1])
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"hue-bridge-{self._port}"
            )
            thread.daemon = True
            thread.start()
            self._server, self._thread = server, thread
        log.info("hue bridge emulator listening on %s", self.address)
        return self

    def stop(self) -> None:
        """Close the port and every open connection: clients now get ConnectionRefusedError. Idempotent."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(5)
        log.info("hue bridge emulator on %s:%s stopped", self._host, self._port)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("port 0 is chosen by the system at start(); start the emulator first")
        return self._port

    @property
    def address(self) -> str:
        """`host:port`, what phue's Bridge takes as its `ip`."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    # -- test hooks -----------------------------------------------------------------------------------------------

    def press_link_button(self) -> None:
        """As on the bridge: registration (POST /api) succeeds for the next 30 s."""
        with self._lock:
            self._link_pressed_at = self._clock()

    def set_from_app(self, light_id: str | int, **state: Any) -> None:
        """A change from the Hue app: applied as a person would make it (no 201 while off), not timed as a command."""
        with self._lock:
            light = self._light(light_id)
            light.set_fields(state, f"lights.{light_id}")
        log.debug("light %s changed from the app: %s", light_id, state)

    def set_reachable(self, light_id: str | int, reachable: bool, *, power_cycled: bool = False) -> None:
        """The light drops off the Zigbee mesh or returns; `power_cycled` returns it in its power-on state."""
        with self._lock:
            light = self._light(light_id)
            if power_cycled:
                light.state = _power_on_state(light.capabilities, light.ct_range)
            light.state["reachable"] = reachable

    def fail_next(self, n: int = 1, error_type: int = INTERNAL_ERROR, description: str = "", status: int = 200) -> None:
        """Answer the next `n` requests (of any kind) with this error object instead of serving them."""
        text = description or ("Internal error, 503" if error_type == INTERNAL_ERROR else "injected failure")
        with self._lock:
            self._failures.extend(_Failure(error_type, text, status) for _ in range(n))

    # -- inspection -----------------------------------------------------------------------------------------------

    @property
    def usernames(self) -> list[str]:
        with self._lock:
            return list(self._users)

    def light(self, light_id: str | int) -> dict[str, Any]:
        """The light as GET /api/<u>/lights/<id> shows it (a copy)."""
        with self._lock:
            return self._light(light_id).as_json()

    def state(self, light_id: str | int) -> dict[str, Any]:
        """The light's `state` object (a copy)."""
        with self._lock:
            return copy.deepcopy(self._light(light_id).state)

    def group(self, group_id: str | int) -> dict[str, Any]:
        with self._lock:
            group = self._groups.get(str(group_id))
            if group is None:
                raise KeyError(f"no group {group_id!r}")
            return group.as_json(self._lights)

    def command_times(self, kind: CommandKind) -> list[float]:
        """Clock readings of every `kind` command received (light-state or group-action PUT), rejected included."""
        with self._lock:
            return list(self._times[kind])

    def peak_rate(self, kind: CommandKind, window_s: float = 1.0) -> int:
        """Most `kind` commands received in any sliding window of `window_s` (half-open)."""
        return peak_count(self.command_times(kind), window_s)

    def rejected(self, kind: CommandKind) -> int:
        """How many `kind` commands the rate limit refused."""
        with self._lock:
            return self._rejected[kind]

    @property
    def commands(self) -> list[Command]:
        with self._lock:
            return list(self._commands)

    def reset_measurements(self) -> None:
        with self._lock:
            for kind in ("light", "group"):
                self._times[kind].clear()
                self._admitted[kind].clear()
                self._rejected[kind] = 0
            self._commands.clear()

    # -- the protocol ---------------------------------------------------------------------------------------------

    def handle_request(self, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
        """One request answered as (HTTP status, JSON value): the transport seam; the HTTP handler only calls this."""
        parts = [p for p in urlsplit(path).path.split("/") if p]
        if not parts or parts[0] != "api":
            return 404, _not_available(path)
        with self._lock:
            now = self._clock()
            kind, target = self._command_of(method, parts)
            if kind is not None:
                self._times[kind].append(now)
            if self._failures:
                failure = self._failures.popleft()
                self._record(now, kind, target, body, "failed")
                address = "/" + "/".join(parts[2:]) if len(parts) > 1 else ""
                return failure.status, [hue_error(failure.error_type, address, failure.description)]
            if kind is not None and self.enforce_rate_limit and not self._admit(kind, now):
                self._rejected[kind] += 1
                self._record(now, kind, target, body, "rate_limited")
                log.info("hue bridge emulator: %s command to %s over the rate limit, not applied", kind, target)
                address = "/" + "/".join(parts[2:])
                return self._rate_limit_status, [hue_error(INTERNAL_ERROR, address, "Internal error, 503")]
            self._record(now, kind, target, body, "answered")
            return 200, self._route(method, parts, body)

    def _command_of(self, method: str, parts: list[str]) -> tuple[CommandKind | None, str]:
        if method != "PUT" or len(parts) != 5 or parts[1] not in self._users:
            return None, ""
        if parts[2] == "lights" and parts[4] == "state":
            return "light", parts[3]
        if parts[2] == "groups" and parts[4] == "action":
            return "group", parts[3]
        return None, ""

    def _admit(self, kind: CommandKind, now: float) -> bool:
        admitted = self._admitted[kind]
        while admitted and now - admitted[0] >= self._window_s:
            admitted.popleft()
        if len(admitted) >= self._limits[kind]:
            return False
        admitted.append(now)
        return True

    def _record(self, now: float, kind: CommandKind | None, target: str, raw: bytes, outcome: Outcome) -> None:
        if kind is None:
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self._commands.append(Command(now, kind, target, body, outcome))

    def _light(self, light_id: str | int) -> _Light:
        light = self._lights.get(str(light_id))
        if light is None:
            raise KeyError(f"no light {light_id!r}")
        return light

    def _link_active(self) -> bool:
        pressed = self._link_pressed_at
        return self.auto_link or (pressed is not None and self._clock() - pressed <= LINK_WINDOW_S)

    def _route(self, method: str, parts: list[str], raw: bytes) -> Any:
        if len(parts) == 1:
            if method == "POST":
                return self._register(raw)
            return [hue_error(UNAUTHORIZED, "/", "unauthorized user")]
        user, rest = parts[1], parts[2:]
        if method == "GET" and user not in self._users and (rest == ["config"] or (user == "config" and not rest)):
            return self._public_config()
        address = "/" + "/".join(rest)
        if user not in self._users:
            return [hue_error(UNAUTHORIZED, address, "unauthorized user")]
        body: dict[str, Any] = {}
        if method in ("PUT", "POST"):
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                return [hue_error(INVALID_JSON, address, "body contains invalid JSON")]
            if not parsed:
                return [hue_error(MISSING_PARAMETERS, address, "invalid/missing parameters in body")]
            body = parsed
        answer: Any = None
        if not rest:
            answer = self._full_state() if method == "GET" else None
        elif rest[0] == "lights":
            answer = self._lights_route(method, rest, body, address)
        elif rest[0] == "groups":
            answer = self._groups_route(method, rest, body, address)
        elif rest == ["config"]:
            answer = self._config() if method == "GET" else self._put_config(body) if method == "PUT" else None
        elif rest[0] in _EMPTY_RESOURCES and len(rest) == 1:
            answer = {} if method == "GET" else None
        else:
            return _not_available(address)
        if answer is None:
            return [
                hue_error(METHOD_NOT_AVAILABLE, address, f"method, {method}, not available for resource, {address}")
            ]
        return answer

    def _register(self, raw: bytes) -> list[dict[str, Any]]:
        try:
            data = json.loads(raw)
        except ValueError:
            return [hue_error(INVALID_JSON, "", "body contains invalid JSON")]
        if not isinstance(data, dict) or "devicetype" not in data:
            return [hue_error(MISSING_PARAMETERS, "", "invalid/missing parameters in body")]
        devicetype = data["devicetype"]
        if not isinstance(devicetype, str) or not 0 < len(devicetype) <= 40:
            description = f"invalid value, {_render(devicetype)} , for parameter, devicetype"
            return [hue_error(INVALID_VALUE, "/devicetype", description)]
        if not self._link_active():
            return [hue_error(LINK_BUTTON_NOT_PRESSED, "", "link button not pressed")]
        username = secrets.token_hex(20)
        self._users[username] = _User(devicetype)
        success: dict[str, Any] = {"username": username}
        if data.get("generateclientkey") is True:
            success["clientkey"] = secrets.token_hex(16).upper()
        log.info("hue bridge emulator: registered %r", devicetype)
        return [{"success": success}]

    def _lights_route(self, method: str, rest: list[str], body: dict[str, Any], address: str) -> Any:
        if len(rest) == 1:
            return {key: light.as_json() for key, light in self._lights.items()} if method == "GET" else None
        light = self._lights.get(rest[1])
        if light is None or len(rest) > 3 or rest[2:] not in ([], ["state"]):
            return _not_available(address)
        if len(rest) == 2:
            if method == "GET":
                return light.as_json()
            return self._rename(light, body, address) if method == "PUT" else None
        if method != "PUT":
            return None
        results, accepted = _evaluate(body, light.capabilities, light.state["on"], light.ct_range, address)
        if light.state["reachable"]:
            _apply(light.state, accepted, light.ct_range)
        else:
            log.debug("light %s is unreachable: answered, nothing happens", rest[1])
        return results

    def _rename(self, target: _Light | _Group, body: dict[str, Any], address: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for key, value in body.items():
            if key != "name":
                results.append(
                    hue_error(PARAMETER_NOT_AVAILABLE, f"{address}/{key}", f"parameter, {key}, not available")
                )
            elif not isinstance(value, str) or not 0 < len(value) <= 32:
                description = f"invalid value, {_render(value)} , for parameter, name"
                results.append(hue_error(INVALID_VALUE, f"{address}/name", description))
            else:
                target.name = value
                results.append(_success(f"{address}/name", value))
        return results

    def _groups_route(self, method: str, rest: list[str], body: dict[str, Any], address: str) -> Any:
        if len(rest) == 1:
            if method != "GET":
                return None
            return {key: g.as_json(self._lights) for key, g in self._groups.items() if key != "0"}
        group = self._groups.get(rest[1])
        if group is None or len(rest) > 3 or rest[2:] not in ([], ["action"]):
            return _not_available(address)
        if len(rest) == 2:
            if method == "GET":
                return group.as_json(self._lights)
            return self._put_group(rest[1], group, body, address) if method == "PUT" else None
        if method != "PUT":
            return None
        results, accepted = _evaluate(body, _ALL_CAPABILITIES, True, (MIRED_MIN, MIRED_MAX), address)
        switching_on = accepted.get("on") is True
        for member in group.lights:
            light = self._lights[member]
            if not light.state["reachable"]:
                continue
            is_on = light.state["on"] or switching_on
            changes = {
                key: value
                for key, value in accepted.items()
                if (_PARAMS[key].needs is None or _PARAMS[key].needs in light.capabilities)
                and (is_on or not _PARAMS[key].needs_on)
            }
            _apply(light.state, changes, light.ct_range)
        _apply(group.action, accepted, (MIRED_MIN, MIRED_MAX))
        return results

    def _put_group(self, group_id: str, group: _Group, body: dict[str, Any], address: str) -> list[dict[str, Any]]:
        if group_id == "0":
            key = next(iter(body))
            return [hue_error(NOT_MODIFIABLE, f"{address}/{key}", f"parameter, {key}, is not modifiable")]
        lights = body.pop("lights", None)
        results = self._rename(group, body, address) if body else []
        if lights is not None:
            valid = isinstance(lights, list) and all(isinstance(m, str) and m in self._lights for m in lights)
            if valid:
                group.lights = list(lights)
                results.append(_success(f"{address}/lights", list(lights)))
            else:
                description = f"invalid value, {_render(lights)} , for parameter, lights"
                results.append(hue_error(INVALID_VALUE, f"{address}/lights", description))
        return results

    def _public_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datastoreversion": "126",
            "swversion": "1962154010",
            "apiversion": "1.62.0",
            "mac": "00:17:88:00:00:01",
            "bridgeid": "001788FFFE000001",
            "factorynew": False,
            "replacesbridgeid": None,
            "modelid": "BSB002",
            "starterkitid": "",
        }

    def _config(self) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        whitelist = {
            name: {"last use date": now, "create date": user.created, "name": user.devicetype}
            for name, user in self._users.items()
        }
        return {
            **self._public_config(),
            "zigbeechannel": 15,
            "dhcp": True,
            "ipaddress": self._host,
            "netmask": "255.0.0.0",
            "gateway": self._host,
            "proxyaddress": "none",
            "proxyport": 0,
            "UTC": now,
            "localtime": now,
            "timezone": "Etc/UTC",
            "whitelist": whitelist,
            "linkbutton": self._link_active(),
            "portalservices": False,
        }

    def _put_config(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for key, value in body.items():
            if key != "name":
                results.append(hue_error(PARAMETER_NOT_AVAILABLE, f"/config/{key}", f"parameter, {key}, not available"))
            elif not isinstance(value, str) or not 4 <= len(value) <= 16:
                description = f"invalid value, {_render(value)} , for parameter, name"
                results.append(hue_error(INVALID_VALUE, "/config/name", description))
            else:
                self.name = value
                results.append(_success("/config/name", value))
        return results

    def _full_state(self) -> dict[str, Any]:
        return {
            "lights": {key: light.as_json() for key, light in self._lights.items()},
            "groups": {key: g.as_json(self._lights) for key, g in self._groups.items() if key != "0"},
            "config": self._config(),
            **{resource: {} for resource in sorted(_EMPTY_RESOURCES)},
        }


if __name__ == "__main__":
    from firmware_sim.hue_cli import main

    raise SystemExit(main())
