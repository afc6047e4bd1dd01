"""`python -m firmware_sim --config venue.yaml`: run a venue's simulated MQTT devices until SIGINT/SIGTERM.

`ambience sim` can call `main()` too. Bad input is one line on stderr and exit 1; usage errors exit 2
(argparse). Stopping publishes `offline` for every device before disconnecting, so a clean stop is visible.

`--faults drop=0.2,delay=0.5,offline=60/5,manual=120 [--seed N]` injects faults (see `faults.py`) and prints
one summary line of what was injected when it stops.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from firmware_sim.config import ConfigError, load_config, with_overrides
from firmware_sim.faults import SPEC_EXAMPLE, FaultPlan, FaultSpecError
from firmware_sim.venue import SimulatedVenue, zone_groups

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m firmware_sim",
        description="Simulated Zigbee2MQTT firmware for the driver: mqtt devices of a venue.",
    )
    parser.add_argument("--config", required=True, help="venue YAML file (its mqtt and devices sections)")
    parser.add_argument("--url", help="broker URL, overrides mqtt.url (mqtt://host:port)")
    parser.add_argument("--base-topic", help="overrides mqtt.base_topic (default zigbee2mqtt)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--faults", metavar="SPEC", help=f"inject faults, e.g. {SPEC_EXAMPLE}")
    parser.add_argument("--seed", type=int, help="makes --faults reproducible")
    parser.add_argument(
        "--zone-groups",
        action="store_true",
        help="a Zigbee2MQTT group of each zone's lights (<zone>_lights), on bridge/groups, taking group /set",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seed is not None and args.faults is None:
        parser.error("--seed needs --faults")
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    plan = None
    if args.faults is not None:
        try:
            plan = FaultPlan.parse(args.faults)
        except FaultSpecError as error:
            where = f"--faults {error.key}" if error.key else "--faults"
            print(f"error: {where}: {error.reason}", file=sys.stderr)
            return 1
    try:
        config = with_overrides(load_config(args.config), url=args.url, base_topic=args.base_topic)
    except ConfigError as error:
        where = f"{args.config}: " if error.path else ""  # file-level messages already name the file
        print(f"error: {where}{error}", file=sys.stderr)
        return 1
    if not config.devices:
        print(f"error: {args.config}: no devices with driver mqtt to simulate", file=sys.stderr)
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    groups = zone_groups(config.devices) if args.zone_groups else None
    venue = SimulatedVenue.from_config(config, faults=plan, seed=args.seed, groups=groups)
    faults = ""
    if plan is not None:
        faults = f", faults {plan.spec() or 'none'}" + ("" if args.seed is None else f", seed {args.seed}")
    try:
        venue.start()
        print(
            f"firmware_sim: simulating {len(venue.devices)} device{'' if len(venue.devices) == 1 else 's'} "
            f"on {config.broker.display()} "
            f"(base topic {config.base_topic}{faults}); Ctrl-C stops",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        venue.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if plan is not None:
        print(f"faults: {venue.fault_stats.summary()}", flush=True)
    log.info("stopped cleanly")
    return 0
