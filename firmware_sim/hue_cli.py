"""`python -m firmware_sim.hue_bridge --port N --lights 2 [--auto-link] [--username U]`: a Hue bridge until a signal.

For `ambience demo` and operators. Prints one line, `hue bridge emulator at HOST:PORT username=U lights=N ...`,
then serves until SIGINT/SIGTERM and exits 0. A port that cannot be bound is one line on stderr and exit 1; usage
errors exit 2 (argparse).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from firmware_sim.hue_bridge import HueBridgeEmulator

log = logging.getLogger(__name__)


def parse_group(text: str) -> tuple[str, list[str]]:
    """`lounge=1,2` as (name, light ids)."""
    name, sep, members = text.partition("=")
    ids = [m.strip() for m in members.split(",") if m.strip()]
    if not sep or not name.strip() or not ids:
        raise argparse.ArgumentTypeError(f"expected NAME=ID[,ID...], got {text!r}")
    return name.strip(), ids


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m firmware_sim.hue_bridge",
        description="A Philips Hue bridge emulator (v1 HTTP API subset, as phue uses it) on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default 0: a free one, printed)")
    parser.add_argument("--lights", type=int, default=2, help="number of extended colour lights, ids 1..N")
    parser.add_argument(
        "--group", action="append", type=parse_group, default=[], metavar="NAME=ID,ID", help="a group (repeatable)"
    )
    parser.add_argument("--auto-link", action="store_true", help="registration needs no link button press")
    parser.add_argument("--username", help="a whitelisted username (default: a random one, printed)")
    parser.add_argument("--enforce-rate-limit", action="store_true", help="refuse >10 light or >1 group commands/s")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lights < 0:
        parser.error("--lights must be 0 or more")
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    groups: dict[str, dict[str, Any]] = {
        str(i): {"name": name, "lights": ids} for i, (name, ids) in enumerate(args.group, start=1)
    }
    try:
        emulator = HueBridgeEmulator(
            args.lights,
            groups,
            host=args.host,
            port=args.port,
            username=args.username,
            auto_link=args.auto_link,
            enforce_rate_limit=args.enforce_rate_limit,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            emulator.start()
        except OSError as error:
            print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
            return 1
        print(
            f"hue bridge emulator at {emulator.address} username={emulator.username} lights={args.lights} "
            f"auto_link={'on' if args.auto_link else 'off'}; Ctrl-C stops",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped cleanly")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
