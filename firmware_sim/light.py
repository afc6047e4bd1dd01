"""A Zigbee2MQTT-style colour light: on/off, brightness 0-254, colour temperature in mireds, CIE xy colour.

Transitions follow Zigbee2MQTT: the state message shows the commanded *target* at once, while the light's
actual output (`output(now)`) fades linearly from where it was. The state message says so in a small extra
`fade` object while the fade runs; no stream of intermediate states is published, as none is by a real bulb.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, TypeAlias

from firmware_sim.color import MIRED_MAX, MIRED_MIN, clamp_mired, hex_to_xy, mired_to_xy
from firmware_sim.fields import FieldError, as_choice, as_int, as_number
from firmware_sim.firmware import Outcome

ColorMode: TypeAlias = Literal["color_temp", "xy"]

BRIGHTNESS_MAX = 254
MAX_TRANSITION_S = 3600.0
INITIAL_COLOR_TEMP = 370


@dataclass(frozen=True, slots=True)
class LightOutput:
    """What the bulb actually emits at one instant; `level` is 0 when dark, whatever the state says."""

    level: float
    color_temp: float
    x: float
    y: float

    @property
    def lit(self) -> bool:
        return self.level > 0


@dataclass(frozen=True, slots=True)
class Fade:
    """A running transition: from `origin` (the output when the command came) to the state's target."""

    start: float
    duration_s: float
    origin: LightOutput

    def progress(self, now: float) -> float:
        if self.duration_s <= 0:
            return 1.0
        return max(0.0, min(1.0, (now - self.start) / self.duration_s))


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def parse_color(key: str, value: Any, previous: tuple[float, float]) -> tuple[float, float]:
    """`{"x":..,"y":..}` or `{"hex":"#rrggbb"}` to xy; black keeps the previous xy, as it has no chromaticity."""
    if not isinstance(value, Mapping):
        raise FieldError(key, f'expected {{"x":..,"y":..}} or {{"hex":"#rrggbb"}}, got {value!r}')
    if "x" in value and "y" in value:
        x = as_number(f"{key}.x", value["x"], 0.0, 1.0)
        y = as_number(f"{key}.y", value["y"], 0.0, 1.0)
        return round(x, 4), round(y, 4)
    if "hex" in value:
        if not isinstance(value["hex"], str):
            raise FieldError(f"{key}.hex", f"expected '#rrggbb', got {value['hex']!r}")
        try:
            xy = hex_to_xy(value["hex"])
        except ValueError as error:
            raise FieldError(f"{key}.hex", str(error)) from None
        return previous if xy is None else xy
    raise FieldError(key, f'expected {{"x":..,"y":..}} or {{"hex":"#rrggbb"}}, got {value!r}')


@dataclass(frozen=True, slots=True)
class LightFirmware:
    """A light's commanded (and reported) state, plus the fade its output is following."""

    KIND: ClassVar[str] = "light"

    on: bool = False
    brightness: int = BRIGHTNESS_MAX
    color_temp: int = INITIAL_COLOR_TEMP
    color_mode: ColorMode = "color_temp"
    xy: tuple[float, float] = field(default_factory=lambda: mired_to_xy(INITIAL_COLOR_TEMP))
    mired_range: tuple[int, int] = (MIRED_MIN, MIRED_MAX)
    fade: Fade | None = None
    keys: frozenset[str] | None = None
    """The `/set` keys its definition has converters for (firmware_sim/definitions.py); None: every key."""

    @classmethod
    def create(cls, mired_range: tuple[int, int] | None = None, keys: frozenset[str] | None = None) -> LightFirmware:
        """The power-on state, with the initial colour temperature inside the device's own range."""
        lo, hi = mired_range or (MIRED_MIN, MIRED_MAX)
        color_temp = clamp_mired(INITIAL_COLOR_TEMP, lo, hi)
        return cls(color_temp=color_temp, xy=mired_to_xy(color_temp), mired_range=(lo, hi), keys=keys)

    def _has(self, key: str) -> bool:
        return self.keys is None or key in self.keys

    def target(self) -> LightOutput:
        """The output the light settles at once any fade is over."""
        level = float(self.brightness) if self.on else 0.0
        return LightOutput(level, float(self.color_temp), self.xy[0], self.xy[1])

    def output(self, now: float) -> LightOutput:
        """The actual output at `now`: the target, or a linear mix of origin and target during a fade."""
        goal = self.target()
        if self.fade is None:
            return goal
        t = self.fade.progress(now)
        if t >= 1.0:
            return goal
        start = self.fade.origin
        return LightOutput(
            _lerp(start.level, goal.level, t),
            _lerp(start.color_temp, goal.color_temp, t),
            _lerp(start.x, goal.x, t),
            _lerp(start.y, goal.y, t),
        )

    def apply(self, command: Mapping[str, Any], now: float) -> Outcome[LightFirmware]:
        """Zigbee2MQTT semantics: brightness > 0 alone turns the light on, 0 turns it off (keeping the level)."""
        accepted: list[str] = []
        rejected: list[FieldError] = []
        on, brightness, color_temp, mode, xy = self.on, self.brightness, self.color_temp, self.color_mode, self.xy
        explicit_state: bool | None = None
        implied_state: bool | None = None
        transition = 0.0
        for key, value in command.items():
            try:
                if not self._has(key):
                    raise FieldError(key, f"No converter available for '{key}'")  # Zigbee2MQTT's own words
                if key == "state":
                    wanted = as_choice(key, value, ("ON", "OFF", "TOGGLE"), upper=True)
                    explicit_state = (not self.on) if wanted == "TOGGLE" else wanted == "ON"
                elif key == "brightness":
                    level = as_int(key, value, 0, BRIGHTNESS_MAX)
                    implied_state = level > 0
                    if level > 0:
                        brightness = level
                elif key == "color_temp":
                    color_temp = clamp_mired(as_number(key, value), *self.mired_range)
                    xy = mired_to_xy(color_temp)
                    mode = "color_temp"
                elif key == "color":
                    xy = parse_color(key, value, xy)
                    mode = "xy"
                elif key == "transition":
                    transition = as_number(key, value, 0.0, MAX_TRANSITION_S)
                else:
                    raise FieldError(key, "unknown field")
            except FieldError as error:
                rejected.append(error)
                continue
            accepted.append(key)
        if not accepted:
            return Outcome(self, (), tuple(rejected))
        if explicit_state is not None:
            on = explicit_state
        elif implied_state is not None:
            on = implied_state
        new = replace(self, on=on, brightness=brightness, color_temp=color_temp, color_mode=mode, xy=xy, fade=None)
        if transition > 0 and new.target() != self.output(now):
            new = replace(new, fade=Fade(start=now, duration_s=transition, origin=self.output(now)))
        return Outcome(new, tuple(accepted), tuple(rejected))

    def advance(self, now: float) -> LightFirmware:
        """A finished fade is forgotten; nothing else changes without a command."""
        if self.fade is not None and self.fade.progress(now) >= 1.0:
            return replace(self, fade=None)
        return self

    def report(self, now: float) -> dict[str, Any]:
        message: dict[str, Any] = {"state": "ON" if self.on else "OFF", "brightness": self.brightness}
        if self._has("color_temp"):
            message["color_temp"] = self.color_temp
        if self._has("color_temp") or self._has("color"):
            message["color_mode"] = self.color_mode
        if self._has("color"):
            message["color"] = {"x": self.xy[0], "y": self.xy[1]}
        if self.fade is not None and self.fade.progress(now) < 1.0:
            message["fade"] = {
                "from_brightness": round(self.fade.origin.level),
                "to_brightness": round(self.target().level),
                "duration_s": self.fade.duration_s,
                "remaining_s": round(self.fade.start + self.fade.duration_s - now, 3),
            }
        return message

    def wants_report(self, last: Mapping[str, Any], since_s: float) -> bool:
        """Fades are announced once, with the command; their progress is not reported."""
        return False
