"""Fault injection: what goes wrong at a real venue, on purpose and reproducibly.

A `FaultPlan` says how often things go wrong; it is parsed from the command line's `--faults` spec:

    drop=0.2,delay=0.5,offline=60/5,manual=120

- `drop=SHARE` (0..1, or a percentage like `20%`): that share of `/set` commands is lost, like a Zigbee frame
  that never arrives. Decided per device with its own seeded generator, so the network threads cannot reorder
  the draws.
- `delay=SECONDS`: every state report goes out that many seconds late (a *fixed* delay: a fixed lag is what a
  test can assert on, and per-device order is kept anyway). Availability messages are never delayed.
- `offline=EVERY/FOR`: on average every EVERY seconds *somewhere in the venue* (not per device, so the rate
  does not grow with the venue) one device loses power for FOR seconds: its socket closes without DISCONNECT,
  the broker publishes its last will, and it comes back with a fresh clean session.
- `manual=EVERY`: on average every EVERY seconds across the venue, a person changes one device by hand.

Intervals are exponential (a Poisson process) with the given mean. With a seed every random choice is
reproducible: the schedule (`FaultScheduler`) and the manual changes (`plausible_change`) are pure functions of
the seed, the time and the device state, both taking time as an argument. `Timeline` is the one thread that
runs late reports and the ends of outages; `FaultStats` counts and logs what was injected.

Errors: `FaultSpecError(ConfigError)` names the key (`drop: must be between 0 and 1, got '1.5'`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeAlias

from firmware_sim.config import ConfigError

log = logging.getLogger(__name__)

SPEC_KEYS = ("drop", "delay", "offline", "manual")
SPEC_EXAMPLE = "drop=0.2,delay=0.5,offline=60/5,manual=120"

FaultKind: TypeAlias = Literal["dropped", "delayed", "outage", "back", "manual"]
COUNTED: dict[str, tuple[str, str]] = {  # kind -> (singular, plural) in the summary line
    "dropped": ("command dropped", "commands dropped"),
    "delayed": ("report delayed", "reports delayed"),
    "outage": ("outage", "outages"),
    "manual": ("manual change", "manual changes"),
}
LOG_LIMIT = 100_000  # events kept in `FaultStats.events()`; the counters are never truncated
MAX_DUE_PER_CALL = 16  # a stalled scheduler catches up in bounded steps, never in one burst

LIGHT_STEP = 30  # a hand on a dimmer moves it visibly, beyond any echo tolerance
VOLUME_STEP = 20
INTENSITY_STEP = 20
SETPOINT_STEP_C = 2.0
SETPOINT_RANGE_C = (5.0, 35.0)


class FaultSpecError(ConfigError):
    """A bad `--faults` spec or `FaultPlan` value; `key` is the spec key at fault (`drop`, `offline`...)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key, reason)
        self.key = key


# -- the plan -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """How often things go wrong; the default plan injects nothing. See the module docstring for the units."""

    drop_share: float = 0.0
    report_delay_s: float = 0.0
    offline_every_s: float | None = None
    offline_for_s: float = 0.0
    manual_every_s: float | None = None

    def __post_init__(self) -> None:
        _check_number("drop", self.drop_share, lo=0.0, hi=1.0)
        _check_number("delay", self.report_delay_s, lo=0.0)
        if self.offline_every_s is not None:
            _check_number("offline", self.offline_every_s, positive=True)
            _check_number("offline", self.offline_for_s, positive=True)
        elif self.offline_for_s:
            raise FaultSpecError("offline", "an outage length needs a mean interval (offline=EVERY/FOR)")
        if self.manual_every_s is not None:
            _check_number("manual", self.manual_every_s, positive=True)

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """`drop=0.2,delay=0.5,offline=60/5,manual=120` (any subset, any order) to a plan."""
        values: dict[str, str] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key, sep, value = (s.strip() for s in item.partition("="))
            if not sep:
                raise FaultSpecError(key, f"expected key=value, e.g. {SPEC_EXAMPLE}")
            if key not in SPEC_KEYS:
                raise FaultSpecError(key, f"unknown key, expected one of {', '.join(SPEC_KEYS)}")
            if key in values:
                raise FaultSpecError(key, "given twice")
            values[key] = value
        if not values:
            raise FaultSpecError("", f"empty spec, expected e.g. {SPEC_EXAMPLE}")
        options: dict[str, Any] = {}
        if "drop" in values:
            raw = values["drop"]
            share = _parse_number("drop", raw.removesuffix("%"))
            options["drop_share"] = share / 100 if raw.endswith("%") else share
        if "delay" in values:
            options["report_delay_s"] = _parse_number("delay", values["delay"])
        if "offline" in values:
            every, sep, length = values["offline"].partition("/")
            if not sep:
                raise FaultSpecError("offline", f"expected EVERY/FOR in seconds, e.g. 60/5, got {values['offline']!r}")
            options["offline_every_s"] = _parse_number("offline", every)
            options["offline_for_s"] = _parse_number("offline", length)
        if "manual" in values:
            options["manual_every_s"] = _parse_number("manual", values["manual"])
        return cls(**options)

    @property
    def active(self) -> bool:
        """Whether the plan injects anything at all."""
        return bool(self.drop_share or self.report_delay_s or self.offline_every_s is not None or self.manual_every_s)

    def spec(self) -> str:
        """The plan as a `--faults` spec again (empty for no faults)."""
        parts: list[str] = []
        if self.drop_share:
            parts.append(f"drop={self.drop_share:g}")
        if self.report_delay_s:
            parts.append(f"delay={self.report_delay_s:g}")
        if self.offline_every_s is not None:
            parts.append(f"offline={self.offline_every_s:g}/{self.offline_for_s:g}")
        if self.manual_every_s is not None:
            parts.append(f"manual={self.manual_every_s:g}")
        return ",".join(parts)


def _parse_number(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FaultSpecError(key, f"expected a number, got {text!r}") from None


def _check_number(key: str, value: Any, *, lo: float = -math.inf, hi: float = math.inf, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FaultSpecError(key, f"expected a finite number, got {value!r}")
    if positive and value <= 0:
        raise FaultSpecError(key, f"must be above 0 seconds, got {value:g}")
    if not lo <= value <= hi:
        bounds = f"between {lo:g} and {hi:g}" if math.isfinite(hi) else f"at least {lo:g}"
        raise FaultSpecError(key, f"must be {bounds}, got {value:g}")


def derived_seed(seed: int | None, *parts: str) -> str | None:
    """A seed for one stream of draws (`1:drop:bar-lamp`); str seeds hash stably across runs (sha512)."""
    return None if seed is None else ":".join((str(seed), *parts))


# -- what happened --------------------------------------------------------------------------------------------


class FaultEvent(NamedTuple):
    """One injected fault: monotonic time, device, kind, and what exactly (the manual fields, the outage...)."""

    at: float
    device_id: str
    kind: str
    detail: Mapping[str, Any]


class FaultStats:
    """Thread-safe counters and a log of the injected faults, shared by a venue's devices."""

    def __init__(self, log_limit: int = LOG_LIMIT) -> None:
        self._cond = threading.Condition()
        self._counts: dict[str, int] = dict.fromkeys(COUNTED, 0)
        self._events: deque[FaultEvent] = deque(maxlen=log_limit)

    def record(
        self, kind: FaultKind, device_id: str, detail: Mapping[str, Any] | None = None, at: float | None = None
    ) -> FaultEvent:
        event = FaultEvent(time.monotonic() if at is None else at, device_id, kind, dict(detail or {}))
        with self._cond:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._events.append(event)
            self._cond.notify_all()
        return event

    def count(self, kind: str, device_id: str | None = None) -> int:
        """How many of `kind` so far (for one device: counted from the log, so bounded by its length)."""
        with self._cond:
            if device_id is None:
                return self._counts.get(kind, 0)
            return sum(1 for e in self._events if e.kind == kind and e.device_id == device_id)

    @property
    def commands_dropped(self) -> int:
        return self.count("dropped")

    @property
    def reports_delayed(self) -> int:
        return self.count("delayed")

    @property
    def outages(self) -> int:
        return self.count("outage")

    @property
    def manual_changes(self) -> int:
        return self.count("manual")

    def events(self, kind: str | None = None, device_id: str | None = None) -> list[FaultEvent]:
        """The logged events (oldest first), optionally of one kind and/or one device."""
        with self._cond:
            return [
                e
                for e in self._events
                if (kind is None or e.kind == kind) and (device_id is None or e.device_id == device_id)
            ]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0, device_id: str | None = None) -> bool:
        """Block until at least `count` events of `kind` were recorded; False after `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self.count(kind, device_id) >= count, timeout)

    def summary(self) -> str:
        """`12 commands dropped, 40 reports delayed, 3 outages, 5 manual changes`."""
        with self._cond:
            counts = dict(self._counts)
        return ", ".join(f"{counts[k]} {one if counts[k] == 1 else many}" for k, (one, many) in COUNTED.items())


# -- the schedule (pure: time is an argument) ------------------------------------------------------------------


class PlannedFault(NamedTuple):
    """A fault the schedule says is due: `draws` are the two uniform numbers a manual change is made from."""

    at: float
    kind: Literal["outage", "manual"]
    device_id: str
    draws: tuple[float, float]


class FaultScheduler:
    """When the next outage and the next manual change happen, and on which device.

    Pure apart from its seeded generators: `due(now)` depends only on the seed, the plan, the device ids and
    `now`, never on how often it is called, so a seeded soak run injects the same faults on the same devices at
    the same times. Each stream (outages, manual changes) has its own generator; a device is drawn from all
    ids in sorted order, whatever their state, and the caller skips what does not apply (a device already off).
    """

    def __init__(self, plan: FaultPlan, device_ids: Sequence[str], seed: int | None, start: float) -> None:
        self.plan = plan
        self.device_ids = tuple(sorted(device_ids))
        self._rngs: dict[Literal["outage", "manual"], random.Random] = {
            "outage": random.Random(derived_seed(seed, "outage")),
            "manual": random.Random(derived_seed(seed, "manual")),
        }
        self._means: dict[Literal["outage", "manual"], float | None] = {
            "outage": plan.offline_every_s,
            "manual": plan.manual_every_s,
        }
        self._next: dict[Literal["outage", "manual"], float] = {
            kind: self._after(kind, start) for kind in ("outage", "manual")
        }

    def next_at(self) -> float:
        """When the next fault is due (inf when the plan schedules none)."""
        return min(self._next.values())

    def due(self, now: float) -> list[PlannedFault]:
        """The faults due by `now`, oldest first (at most `MAX_DUE_PER_CALL`; the rest stay due)."""
        found: list[PlannedFault] = []
        while len(found) < MAX_DUE_PER_CALL:
            kind = min(self._next, key=lambda k: (self._next[k], k))
            at = self._next[kind]
            if at > now:
                break
            rng = self._rngs[kind]
            device_id = self.device_ids[rng.randrange(len(self.device_ids))] if self.device_ids else ""
            draws = (rng.random(), rng.random())
            self._next[kind] = self._after(kind, at)
            if device_id:
                found.append(PlannedFault(at, kind, device_id, draws))
        return found

    def _after(self, kind: Literal["outage", "manual"], at: float) -> float:
        mean = self._means[kind]
        return math.inf if mean is None else at + self._rngs[kind].expovariate(1.0 / mean)


def _step_away(value: int, lo: int, hi: int, step: int, draw: float) -> int:
    """A value in [lo, hi] at least `step` from `value`, uniform over the allowed ones by `draw` in [0, 1)."""
    below = list(range(lo, value - step + 1))
    above = list(range(max(value + step, lo), hi + 1))
    allowed = below + above
    if not allowed:  # the range is narrower than the step: go to the far end
        return lo if value - lo >= hi - value else hi
    return allowed[min(int(draw * len(allowed)), len(allowed) - 1)]


def plausible_change(kind: str, report: Mapping[str, Any], draws: tuple[float, float]) -> dict[str, Any]:
    """What a person at the device would change, from its current state message and two uniform draws.

    Always large enough to be told apart from an echo: a light toggles or its brightness moves by >= 30 of 254,
    a thermostat's setpoint by 2 C, a speaker's volume by >= 20, a diffuser toggles or its intensity moves >= 20.
    """
    choose, amount = draws
    if kind == "light":
        if choose < 0.5:
            return {"state": "OFF" if report.get("state") == "ON" else "ON"}
        current = int(report.get("brightness", 254)) if report.get("state") == "ON" else 0
        return {"brightness": _step_away(current, 1, 254, LIGHT_STEP, amount)}
    if kind == "thermostat":
        setpoint = float(report.get("occupied_heating_setpoint", 20.0))
        lo, hi = SETPOINT_RANGE_C
        up = choose < 0.5
        if (up and setpoint + SETPOINT_STEP_C > hi) or (not up and setpoint - SETPOINT_STEP_C < lo):
            up = not up
        return {"occupied_heating_setpoint": setpoint + (SETPOINT_STEP_C if up else -SETPOINT_STEP_C)}
    if kind == "speaker":
        return {"volume": _step_away(int(report.get("volume", 20)), 0, 100, VOLUME_STEP, amount)}
    if kind == "scent":
        if choose < 0.5:
            return {"state": "OFF" if report.get("state") == "ON" else "ON"}
        return {"intensity": _step_away(int(report.get("intensity", 0)), 0, 100, INTENSITY_STEP, amount)}
    raise ValueError(f"no manual change for device kind {kind!r}")


# -- the thread that runs late work ----------------------------------------------------------------------------


class _Call:
    __slots__ = ("cancelled", "fn", "key")

    def __init__(self, key: str | None, fn: Callable[[], object]) -> None:
        self.key = key
        self.fn = fn
        self.cancelled = False


class Timeline:
    """One daemon thread that runs callbacks at their (monotonic) due time: late reports, ends of outages.

    Calls with the same `key` run in the order they were submitted, even if a later one asks for an earlier
    time, which is what keeps a device's delayed reports in order. The thread starts with the first call, so a
    venue without faults has none, and `close()` drops what is pending and returns promptly.
    """

    def __init__(self, name: str = "firmware-sim-timeline") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Call]] = []
        self._seq = itertools.count()
        self._last_due: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def call_at(self, due: float, fn: Callable[[], object], key: str | None = None) -> float:
        """Run `fn` at monotonic time `due` (not before an earlier call with the same key); returns when."""
        with self._cond:
            if key is not None:
                due = max(due, self._last_due.get(key, -math.inf))
                self._last_due[key] = due
            heapq.heappush(self._heap, (due, next(self._seq), _Call(key, fn)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return due

    def cancel(self, key: str) -> int:
        """Drop the pending calls with `key`; returns how many."""
        with self._cond:
            dropped = 0
            for _, _, call in self._heap:
                if call.key == key and not call.cancelled:
                    call.cancelled = True
                    dropped += 1
            self._last_due.pop(key, None)
            return dropped

    def pending(self, key: str | None = None) -> int:
        with self._cond:
            return sum(1 for _, _, c in self._heap if not c.cancelled and (key is None or c.key == key))

    def close(self, timeout_s: float = 2.0) -> None:
        """Drop every pending call and stop the thread (it may be started again by the next call)."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._heap.clear()
            self._last_due.clear()
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while True:
                    if self._thread is not me:
                        return
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        _, _, call = heapq.heappop(self._heap)
                        break
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
            if call.cancelled:
                continue
            try:
                call.fn()
            except Exception:  # one bad callback must not stop the late reports of every device
                log.exception("timeline call failed")
