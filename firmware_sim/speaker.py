"""A networked speaker behind an MQTT bridge: play state, volume 0-100 %, playlist name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from firmware_sim.fields import as_choice, as_int, as_name
from firmware_sim.firmware import FieldParser, Outcome, apply_table

PLAY_STATES = ("PLAY", "PAUSE", "STOP")

FIELDS: dict[str, tuple[str, FieldParser]] = {
    "state": ("state", lambda key, value: as_choice(key, value, PLAY_STATES, upper=True)),
    "volume": ("volume", lambda key, value: as_int(key, value, 0, 100)),
    "playlist": ("playlist", as_name),
}


@dataclass(frozen=True, slots=True)
class SpeakerFirmware:
    KIND: ClassVar[str] = "speaker"

    state: str = "STOP"
    volume: int = 20
    playlist: str = ""

    def apply(self, command: Mapping[str, Any], now: float) -> Outcome[SpeakerFirmware]:
        return apply_table(self, command, FIELDS)

    def advance(self, now: float) -> SpeakerFirmware:
        return self

    def report(self, now: float) -> dict[str, Any]:
        return {"state": self.state, "volume": self.volume, "playlist": self.playlist}

    def wants_report(self, last: Mapping[str, Any], since_s: float) -> bool:
        return False
