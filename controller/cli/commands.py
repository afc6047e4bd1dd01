"""The `ambience` command line (also `python -m controller`).

Exit codes: 0 ok, 1 invalid input (one clear line per error, never a traceback), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from controller.cli.http_plugin import admin_token, http_server, port_problem
from controller.cli.logs import set_venue, setup_logging
from controller.core.events import events_schema
from controller.shell.record import EventRecord
from profiles.errors import ProfileError
from profiles.exceptions import AmbienceError
from profiles.loader import check_files, load_venue, profile_schema, venue_schema
from profiles.sqlite import connect as connect_db
from profiles.venue import VenueConfig

if TYPE_CHECKING:
    pass

log = logging.getLogger("ambience")

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ambience", description="Make a venue's room belong to the community that has just walked in."
    )
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help="default: info for run, warning otherwise",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="a whole simulated venue on this machine, live in the terminal")
    demo.add_argument("--port", type=int, default=8000, help="port of the API and dashboard")
    demo.add_argument(
        "--scenario",
        choices=["evening", "none"],
        default="evening",
        help="'evening' plays a scripted evening; 'none' waits for check-ins from outside",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=None,
        help="venue minutes per real second (default 60 for the evening, 1 for none)",
    )
    demo.add_argument("--config", type=Path, default=None, help="venue config (default: examples/venue.yaml)")
    demo.add_argument("--duration", type=float, default=None, help="stop by itself after this many seconds")
    demo.add_argument("--no-mosquitto", action="store_true", help="use the embedded broker even if mosquitto exists")

    run = sub.add_parser("run", help="the edge service: controller against the configured broker and devices")
    run.add_argument("--config", type=Path, required=True)

    sim = sub.add_parser("sim", help="only the simulated devices of a venue, against the configured broker")
    sim.add_argument("--config", type=Path, required=True)
    sim.add_argument("--url", help="broker URL (default: the config's mqtt.url)")
    sim.add_argument("--faults", metavar="SPEC", help="inject faults, e.g. drop=0.2,delay=0.5,offline=60/5,manual=120")
    sim.add_argument("--seed", type=int, help="makes --faults reproducible")

    hue = sub.add_parser("hue", help="pair with a Philips Hue bridge, list its lights")
    hue_sub = hue.add_subparsers(dest="hue_command", required=True, metavar="ACTION")
    pair = hue_sub.add_parser("pair", help="register with a bridge (press its link button) and print the username")
    pair.add_argument("--host", required=True, help="the bridge's address, e.g. 192.168.1.20")
    pair.add_argument("--env", default="HUE_USERNAME", help="variable name in the printed export line")
    pair.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the link button")
    lights = hue_sub.add_parser("lights", help="list the lights of the config's bridges, to map them to zones")
    lights.add_argument("--config", type=Path, required=True)

    devices = sub.add_parser("devices", help="each device with what it can take, as Zigbee2MQTT and Hue describe it")
    devices.add_argument("--config", type=Path, required=True)
    devices.add_argument("--wait", type=float, default=5.0, help="seconds to wait for Zigbee2MQTT's bridge/devices")
    devices.add_argument("--json", action="store_true", help="one JSON object per device")

    check = sub.add_parser("check", help="validate venue configs and profile files")
    check.add_argument("files", nargs="+", type=Path)

    schema = sub.add_parser(
        "schema", help="print the JSON Schema of a profile, a venue config, or an event of the record"
    )
    schema.add_argument("kind", choices=["profile", "venue", "events"])

    events = sub.add_parser("events", help="print the event record")
    events.add_argument("--config", type=Path, required=True)
    events.add_argument("--since", type=int, default=0, help="only events with an id above this")
    events.add_argument("--type", dest="type_", default=None, help="only events of this type")
    events.add_argument("--limit", type=int, default=None)
    events.add_argument("--follow", action="store_true", help="keep printing new events as they are recorded")
    events.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    init = sub.add_parser("init", help="write a starter venue.yaml, profiles/house.yaml and a .env with an admin token")
    init.add_argument("dir", nargs="?", type=Path, default=None, help="folder to write into (default: here)")
    init.add_argument("--dir", dest="dir_option", type=Path, default=None, help="the same as DIR")
    init.add_argument("--venue-id", default=None, help="default: a slug of the folder's name, else the host name")
    init.add_argument("--name", default=None, help="the venue's display name (default: from its id)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = args.log_level or ("info" if args.command == "run" else "warning")
    setup_logging(level, stream=sys.stderr)
    try:
        venue: VenueConfig | None = None
        if getattr(args, "config", None) is not None and args.command != "sim":  # sim is another program
            venue = _venue(args.config)
            set_venue(venue.venue.id)  # every log line of a command about one venue names it
        if args.command == "check":
            return _check(args.files)
        if args.command == "schema":
            schemas = {"profile": profile_schema, "venue": venue_schema, "events": events_schema}
            print(json.dumps(schemas[args.kind](), indent=2))
            return EXIT_OK
        if args.command == "run" and venue is not None:
            return _run(venue)
        if args.command == "sim":
            return _sim(args.config, args.url, args.faults, args.seed)
        if args.command == "hue":
            from controller.cli import hue_cli

            if args.hue_command == "pair":
                return hue_cli.pair(args.host, env=args.env, wait_s=args.wait)
            return hue_cli.lights(args.config)
        if args.command == "devices" and venue is not None:
            from controller.cli.devices_cli import devices as list_devices

            return list_devices(venue, wait_s=args.wait, as_json=args.json)
        if args.command == "events" and venue is not None:
            return _events(venue, args.since, args.type_, args.limit, args.follow, args.json)
        if args.command == "demo":
            from controller.cli.demo import run_demo

            return run_demo(args)
        if args.command == "init":
            from controller.cli.init_cmd import init

            if args.dir is not None and args.dir_option is not None and args.dir != args.dir_option:
                print("usage error: give the folder as DIR or --dir, not both", file=sys.stderr)
                return EXIT_USAGE
            folder = args.dir_option or args.dir or Path(".")
            return init(
                folder, venue_id=args.venue_id, name=args.name, force=args.force, out=sys.stdout, err=sys.stderr
            )
    except ProfileError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_INVALID
    except AmbienceError as exc:  # every error of ours is one clear line, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_USAGE


def _venue(path: Path) -> VenueConfig:
    try:
        return load_venue(path)
    except ProfileError as exc:
        raise ProfileError(exc.errors, exc.source or str(path)) from None


def _check(files: Sequence[Path]) -> int:
    errors = check_files(files)
    by_file: dict[str, list[str]] = {}
    for name, error in errors:
        by_file.setdefault(name, []).append(f"{name}: {error}")
    for path in files:  # in the order given, each file's errors or its `ok`
        print("\n".join(by_file.pop(str(path), [f"{path}: ok"])))
    for rest in by_file.values():  # errors under another name than given (there should be none)
        print("\n".join(rest))
    return EXIT_INVALID if errors else EXIT_OK


def _run(venue: VenueConfig) -> int:
    from controller.shell import broker_check
    from controller.shell.service import Service

    problem = _store_problem(Path(venue.store.path))
    if problem:
        print(f"error: store.path: {problem}", file=sys.stderr)
        return EXIT_INVALID
    server = http_server()
    if problem := port_problem(venue.api.host, venue.api.port):
        print(f"error: api.port: {problem}", file=sys.stderr)
        return EXIT_INVALID

    async def serve() -> BaseException | None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with Service(venue) as service:
            halt = asyncio.Event()  # a signal, or the service failing (its record cannot be written)
            watcher = asyncio.create_task(service.wait(stop))
            watcher.add_done_callback(lambda _: halt.set())
            # Beside the service, never before it: at each (re)connect, whether the broker keeps what it acknowledges.
            bus = service.bus
            checker = asyncio.create_task(broker_check.watch(venue, lambda: bus is not None and bus.connected))
            log.info("API and dashboard at http://%s:%d/", venue.api.host, venue.api.port)
            await server(service, venue.api.host, venue.api.port, admin_token(venue), halt)
            watcher.cancel()
            checker.cancel()
            await asyncio.gather(checker, return_exceptions=True)  # its probe thread ends with it
        return service.failure

    failure = asyncio.run(serve())
    if failure is not None:
        print(f"error: {failure}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _store_problem(path: Path) -> str | None:
    """Why the event record cannot live at `path`, checked before anything starts (None: it can): a folder that
    cannot be made, a file that cannot be opened, or one that is not a database or is damaged."""
    try:
        connect_db(path).close()
    except sqlite3.DatabaseError as exc:
        return (
            f"{path} is not a readable SQLite database ({exc}): restore it from a backup, or move it away to start "
            "a new record"
        )
    except (OSError, sqlite3.Error) as exc:
        return f"cannot open {path}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
    return None


def _sim(config: Path, url: str | None, faults: str | None = None, seed: int | None = None) -> int:
    """The simulator is the other side of the wire: its own program, sharing no code with us. It replaces this
    process, so signals (Ctrl-C, a service manager's SIGTERM) reach it directly and nothing is left behind.
    `--faults` is checked there (one line, exit 1), not here."""
    cmd = [sys.executable, "-m", "firmware_sim", "--config", str(config)]
    if url:
        cmd += ["--url", url]
    if faults is not None:
        cmd += ["--faults", faults]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, cmd)


def _events(venue: VenueConfig, since: int, type_: str | None, limit: int | None, follow: bool, as_json: bool) -> int:
    if not Path(venue.store.path).exists():
        print(f"error: no event record at {venue.store.path}", file=sys.stderr)
        return EXIT_INVALID
    record = EventRecord(venue.store.path, venue.venue.id)
    printed = 0
    try:
        while True:
            batch = record.read(since, type_, 1000 if limit is None else min(1000, limit - printed))
            for event in batch:
                if as_json:
                    print(json.dumps(event.to_json(), separators=(",", ":")))
                else:
                    payload = json.dumps(event.payload, separators=(",", ":"))
                    print(f"{event.id:>8}  {event.ts.isoformat(timespec='milliseconds')}  {event.type:<18} {payload}")
                since = event.id
                printed += 1
            sys.stdout.flush()
            if limit is not None and printed >= limit:
                return EXIT_OK
            if not batch and not follow:
                return EXIT_OK
            if not batch:
                time.sleep(0.5)
    finally:
        record.close()
