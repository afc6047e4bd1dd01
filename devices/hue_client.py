"""A blocking client of one Hue bridge (v1 API) over phue, with typed errors and a short timeout.

Blocking on purpose: the service calls it from a worker thread (`asyncio.to_thread`), never on the event loop.
Every call opens its own HTTP connection, so calls from several threads do not share state.

phue 1.1 is kept as the seam (`phue.Bridge`, so the rest of its API works over the same transport), with four
of its methods replaced, because as shipped it
- waits 10 s for an answer (fixed in `request`) and lets a timeout while reading escape untranslated;
- returns the bridge's error objects as data (`[{"error": {...}}]` in a 200 answer) instead of raising;
- logs the username (a secret) at INFO in `connect`, and reads `~/.python_hue` when it has no username;
- registers as devicetype `python_hue` and only raises for error types 7 and 101.

Errors:

    HueError                      anything that went wrong talking to a bridge; str() names the bridge
     +-- HueUnreachable           no usable answer: refused, timed out, reset, unknown host, or an answer that
     |                            is not the Hue API (HTTP status not 200, not JSON, wrong shape)
     +-- HueApiError              the bridge answered with error object(s): .type .address .description of the
          |                       first, .errors all of them (e.g. 201 "parameter not modifiable, device off")
          +-- HueUnauthorized           type 1: the username is not (or no longer) on the bridge's whitelist
          +-- HueLinkButtonNotPressed   type 101: registration needs the bridge's link button pressed first
"""

from __future__ import annotations

import http.client
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import phue

from profiles.exceptions import AmbienceError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 3.0  # a bridge answers in well under a second; this bounds a poll when it has gone away
UNAUTHORIZED = 1
LINK_BUTTON_NOT_PRESSED = 101


@dataclass(frozen=True, slots=True)
class ApiErrorObject:
    """One `{"error": {"type", "address", "description"}}` entry of a bridge's answer."""

    type: int
    address: str
    description: str


class HueError(AmbienceError):
    """Talking to a Hue bridge failed; `host` names the bridge."""

    def __init__(self, host: str, message: str) -> None:
        self.host = host
        super().__init__(f"Hue bridge {host}: {message}")


class HueUnreachable(HueError):
    """No usable answer from the bridge; `reason` says what happened."""

    def __init__(self, host: str, reason: str) -> None:
        self.reason = reason
        super().__init__(host, reason)


class HueApiError(HueError):
    """The bridge refused a request with error object(s); the first one's facts are attributes."""

    def __init__(self, host: str, errors: Sequence[ApiErrorObject]) -> None:
        if not errors:
            raise ValueError("HueApiError needs at least one error object")
        self.errors = tuple(errors)
        first = self.errors[0]
        self.type, self.address, self.description = first.type, first.address, first.description
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(host, f"{first.description} (error {first.type} at {first.address}){more}")


class HueUnauthorized(HueApiError):
    """Error type 1: pair again (`ambience hue pair`) and update the username variable."""


class HueLinkButtonNotPressed(HueApiError):
    """Error type 101: the link button was not pressed in the 30 s before registering."""

    def __str__(self) -> str:
        return f"Hue bridge {self.host}: the link button was not pressed; press it, then register within 30 s"


def _error_objects(answer: object) -> list[ApiErrorObject]:
    """The error objects of a v1 answer (a list mixing `success` and `error` entries); none for anything else."""
    if not isinstance(answer, list):
        return []
    found = []
    for entry in answer:
        error = entry.get("error") if isinstance(entry, Mapping) else None
        if isinstance(error, Mapping):
            kind = error.get("type")
            found.append(
                ApiErrorObject(
                    kind if isinstance(kind, int) and not isinstance(kind, bool) else -1,
                    str(error.get("address", "")),
                    str(error.get("description", "")),
                )
            )
    return found


def api_error(host: str, errors: Sequence[ApiErrorObject]) -> HueApiError:
    """The most specific exception for these error objects (an unauthorized username trumps the rest)."""
    types = {error.type for error in errors}
    if UNAUTHORIZED in types:
        return HueUnauthorized(host, errors)
    if LINK_BUTTON_NOT_PRESSED in types:
        return HueLinkButtonNotPressed(host, errors)
    return HueApiError(host, errors)


def _raise_for_errors(host: str, answer: object) -> None:
    errors = _error_objects(answer)
    if errors:
        raise api_error(host, errors)


@contextmanager
def _phue_errors(host: str) -> Iterator[None]:
    """phue's own exceptions, should any of its unreplaced code raise them, as ours."""
    try:
        yield
    except phue.PhueRegistrationException as exc:
        raise HueLinkButtonNotPressed(host, [ApiErrorObject(LINK_BUTTON_NOT_PRESSED, "", str(exc.message))]) from exc
    except phue.PhueRequestTimeout as exc:
        raise HueUnreachable(host, str(exc.message)) from exc
    except phue.PhueException as exc:
        kind = exc.id if isinstance(exc.id, int) else -1
        raise api_error(host, [ApiErrorObject(kind, "", str(exc.message))]) from exc


class _Bridge(phue.Bridge):  # type: ignore[misc]  # phue ships no type hints
    """phue's Bridge with our transport, registration and quiet connect (see the module docstring)."""

    def __init__(self, host: str, username: str | None, *, timeout_s: float, devicetype: str = "ambience") -> None:
        self.timeout_s = timeout_s
        self.devicetype = devicetype
        # os.devnull: phue must never read or write a credentials file; secrets live in the environment.
        super().__init__(ip=host, username=username, config_file_path=os.devnull)

    def request(self, mode: str = "GET", address: str | None = None, data: object = None) -> Any:
        """One HTTP exchange, JSON both ways; transport trouble becomes `HueUnreachable`."""
        connection = http.client.HTTPConnection(self.ip, timeout=self.timeout_s)
        body = None if data is None else json.dumps(data)
        headers = {} if body is None else {"Content-Type": "application/json"}
        try:
            connection.request(mode, address or "/", body, headers)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:  # refused, timeout, reset, DNS, bad status line
            raise HueUnreachable(self.ip, f"{mode} {_redact(address, self.username)}: {_describe(exc)}") from exc
        finally:
            connection.close()
        log.debug("%s %s -> %s", mode, _redact(address, self.username), response.status)
        if response.status != 200:
            raise HueUnreachable(self.ip, f"{mode} {_redact(address, self.username)}: HTTP {response.status}")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise HueUnreachable(self.ip, f"{mode} {_redact(address, self.username)}: answer is not JSON") from exc

    def connect(self) -> None:
        """With a username there is nothing to do; without one, register (phue would read ~/.python_hue)."""
        if self.username is None:
            self.register_app()

    def register_app(self) -> None:
        """`POST /api {"devicetype": ...}`: sets `username`, or raises (101 when the link button is not pressed)."""
        answer = self.request("POST", "/api", {"devicetype": self.devicetype})
        _raise_for_errors(self.ip, answer)
        for entry in answer if isinstance(answer, list) else []:
            success = entry.get("success") if isinstance(entry, Mapping) else None
            if isinstance(success, Mapping) and isinstance(success.get("username"), str):
                self.username = success["username"]
                return
        raise HueUnreachable(self.ip, "registration answer has no username")


def _redact(address: str | None, username: str | None) -> str:
    """The path without the username, which is the bridge's password."""
    path = address or "/"
    return path.replace(username, "<username>") if username else path


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


class HueClient:
    """One bridge, one username. Blocking: call from a worker thread."""

    def __init__(self, host: str, username: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not username:
            raise ValueError("a Hue username is required (see `ambience hue pair`)")
        self.host = host
        self._bridge = _Bridge(host, username, timeout_s=timeout_s)
        self._base = f"/api/{username}"

    def lights(self) -> dict[str, dict[str, Any]]:
        """Every light's raw v1 object by id (`state`, `type`, `name`, `capabilities`, ...)."""
        return self._objects("lights")

    def groups(self) -> dict[str, frozenset[str]]:
        """Each group's light ids by group id (rooms, zones, light groups; group 0 is not listed by the bridge)."""
        out = {}
        for gid, group in self._objects("groups").items():
            lights = group.get("lights")
            if isinstance(lights, list):
                out[gid] = frozenset(str(light) for light in lights)
        return out

    def set_light(self, light_id: str, body: Mapping[str, Any]) -> None:
        """`PUT /lights/<id>/state`; any error object in the answer raises, even next to successes."""
        self._put(f"{self._base}/lights/{light_id}/state", body)

    def set_group(self, group_id: str, body: Mapping[str, Any]) -> None:
        """`PUT /groups/<id>/action`; the bridge answers for the group, not per light."""
        self._put(f"{self._base}/groups/{group_id}/action", body)

    def _objects(self, collection: str) -> dict[str, dict[str, Any]]:
        # The trailing slash is phue's own form (`get_light()`), which real bridges and our emulator both serve.
        with _phue_errors(self.host):
            answer = self._bridge.request("GET", f"{self._base}/{collection}/")
        _raise_for_errors(self.host, answer)
        if not isinstance(answer, Mapping):
            raise HueUnreachable(self.host, f"GET /{collection}: expected an object, got {type(answer).__name__}")
        return {str(key): dict(value) for key, value in answer.items() if isinstance(value, Mapping)}

    def _put(self, address: str, body: Mapping[str, Any]) -> None:
        with _phue_errors(self.host):
            answer = self._bridge.request("PUT", address, dict(body))
        _raise_for_errors(self.host, answer)
        if not isinstance(answer, list):
            raise HueUnreachable(self.host, f"PUT {_redact(address, self._bridge.username)}: expected a list")


def register(host: str, devicetype: str = "ambience", *, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Ask the bridge for a new username (after its link button was pressed); returns it.

    `devicetype` is what the Hue app lists ("<app>#<device>", at most 40 characters). Nothing is written to
    disk: the username belongs in the environment variable the venue config names.
    """
    with _phue_errors(host):
        bridge = _Bridge(host, None, timeout_s=timeout_s, devicetype=devicetype)
    username: str = bridge.username
    return username
