"""The speaker and the scent diffuser: table-driven fields, partial updates, refused values."""

from __future__ import annotations

from typing import Any

import pytest

from firmware_sim.scent import ScentFirmware
from firmware_sim.speaker import SpeakerFirmware


def test_speaker_initial_state_and_partial_updates() -> None:
    speaker = SpeakerFirmware()
    assert speaker.report(0.0) == {"state": "STOP", "volume": 20, "playlist": ""}
    speaker = speaker.apply({"state": "play", "playlist": "lofi"}, 0.0).state
    speaker = speaker.apply({"volume": 35}, 0.0).state
    assert speaker.report(0.0) == {"state": "PLAY", "volume": 35, "playlist": "lofi"}


@pytest.mark.parametrize(
    "command",
    [{"volume": 101}, {"volume": -1}, {"volume": "loud"}, {"state": "REWIND"}, {"playlist": 7}, {"bass": 3}],
)
def test_speaker_refuses_bad_values(command: dict[str, Any]) -> None:
    outcome = SpeakerFirmware().apply(command, 0.0)
    assert outcome.state == SpeakerFirmware()
    assert len(outcome.rejected) == 1


def test_scent_initial_state_and_updates() -> None:
    scent = ScentFirmware()
    assert scent.report(0.0) == {"state": "OFF", "intensity": 0, "scent": ""}
    scent = scent.apply({"state": "ON", "intensity": 30, "scent": "cedar"}, 0.0).state
    assert scent.report(0.0) == {"state": "ON", "intensity": 30, "scent": "cedar"}
    assert scent.apply({"state": "TOGGLE"}, 0.0).state.state == "OFF"


@pytest.mark.parametrize("command", [{"intensity": 150}, {"intensity": None}, {"state": "HALF"}, {"scent": ["a"]}])
def test_scent_refuses_bad_values(command: dict[str, Any]) -> None:
    outcome = ScentFirmware().apply(command, 0.0)
    assert outcome.state == ScentFirmware()
    assert outcome.accepted == ()


def test_a_bad_field_does_not_block_a_good_one() -> None:
    outcome = ScentFirmware().apply({"intensity": 500, "scent": "rose"}, 0.0)
    assert outcome.state.scent == "rose"
    assert outcome.state.intensity == 0
    assert outcome.accepted == ("scent",)
