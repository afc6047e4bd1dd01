"""`ambience hue pair` and `ambience hue lights`: pairing with a Hue bridge and seeing what it has.

Output goes to the streams passed in (stdout and stderr by default), so the CLI wires them and tests read them.
Exit codes as in `controller.cli.commands`: 0 ok, 1 a one-line error (unreachable bridge, link button never pressed,
unset username variable, invalid config), never a traceback.

`pair` prints only shell to `out` (a comment with the username and an `export` line), and its prompt to `err`,
so `eval "$(ambience hue pair --host 192.168.1.20)"` sets the variable.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from devices.hue import from_hue
from devices.hue_client import DEFAULT_TIMEOUT_S, HueClient, HueError, HueLinkButtonNotPressed, register
from profiles.errors import ProfileError
from profiles.loader import load_venue
from profiles.venue import VenueConfig

EXIT_OK, EXIT_INVALID = 0, 1
LINK_WAIT_S = 30.0  # a bridge accepts registrations for 30 s after its button is pressed
LINK_POLL_S = 1.0


def default_devicetype() -> str:
    """`ambience#<this host>`, as the Hue app lists it (the bridge allows 40 characters, 19 for the device)."""
    return f"ambience#{socket.gethostname()[:19]}"


def pair(
    host: str,
    *,
    env: str = "HUE_USERNAME",
    wait_s: float = LINK_WAIT_S,
    poll_s: float = LINK_POLL_S,
    devicetype: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Register with the bridge at `host`, asking for the link button and retrying for up to `wait_s`."""
    devicetype = devicetype or default_devicetype()
    deadline = clock() + wait_s
    prompted = False
    while True:
        try:
            username = register(host, devicetype, timeout_s=timeout_s)
        except HueLinkButtonNotPressed:
            if clock() >= deadline:
                print(
                    f"error: the link button on the Hue bridge at {host} was not pressed within {wait_s:g} s", file=err
                )
                return EXIT_INVALID
            if not prompted:
                print(f"press the link button on the bridge at {host} (waiting up to {wait_s:g} s)", file=err)
                prompted = True
            sleep(poll_s)
        except HueError as exc:
            print(f"error: {exc}", file=err)
            return EXIT_INVALID
        else:
            print(f"# Hue bridge {host}: username {username}", file=out)
            print(f"export {env}={username}", file=out)
            return EXIT_OK


def _usernames(venue: VenueConfig, environ: Mapping[str, str]) -> dict[str, str] | str:
    """Each bridge's username from the variable it names, or the error line for the first one unset."""
    found = {}
    for name, bridge in venue.hue_bridges.items():
        username = environ.get(bridge.username_env, "")
        if not username:
            return (
                f"error: hue_bridges.{name}: environment variable {bridge.username_env} is not set "
                f"(run `ambience hue pair --host {bridge.host}`)"
            )
        found[name] = username
    return found


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def _light_order(light_id: str) -> tuple[int, str]:
    return (int(light_id), "") if light_id.isdigit() else (1 << 62, light_id)


def lights(
    config_path: str | os.PathLike[str],
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    environ: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> int:
    """Print every light of every configured bridge, and which configured device uses it (or `-`)."""
    environ = os.environ if environ is None else environ
    try:
        venue = load_venue(config_path)
    except ProfileError as exc:
        source = exc.source or str(config_path)
        for line in ProfileError(exc.errors, source).lines():
            print(f"error: {line}", file=err)
        return EXIT_INVALID
    if not venue.hue_bridges:
        print(f"error: {Path(config_path)}: no hue_bridges configured", file=err)
        return EXIT_INVALID
    usernames = _usernames(venue, environ)
    if isinstance(usernames, str):
        print(usernames, file=err)
        return EXIT_INVALID

    used = {(d.bridge, str(d.light)): d.id for d in venue.devices if d.driver == "hue"}
    rows: list[tuple[str, ...]] = [("BRIDGE", "LIGHT", "NAME", "TYPE", "REACHABLE", "DEVICE")]
    status = EXIT_OK
    for name, bridge in venue.hue_bridges.items():
        try:
            found: dict[str, dict[str, Any]] = HueClient(bridge.host, usernames[name], timeout_s=timeout_s).lights()
        except HueError as exc:
            print(f"error: hue_bridges.{name}: {exc}", file=err)
            status = EXIT_INVALID
            continue
        for light_id in sorted(found, key=_light_order):
            light = found[light_id]
            _, reachable = from_hue(light)
            rows.append(
                (
                    name,
                    light_id,
                    str(light.get("name", "")),
                    str(light.get("type", "")),
                    "yes" if reachable else "no",
                    used.get((name, light_id), "-"),
                )
            )
        for (bridge_name, light_id), device in sorted(used.items()):
            if bridge_name == name and light_id not in found:
                print(
                    f"warning: device {device} uses light {light_id} of bridge {name}, which it does not have", file=err
                )
    print("\n".join(_table(rows)), file=out)
    return status
