"""Zigbee2MQTT's retained lists as a bridge publishes them, built from the real definitions of
tests/fixtures/z2m_definitions.json (scripts/z2m_definitions.mjs on zigbee-herdsman-converters 26.112.0)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["DEFINITIONS_FILE", "bridge_devices", "definitions", "ieee"]

DEFINITIONS_FILE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "z2m_definitions.json"


@cache
def definitions() -> dict[str, Any]:
    """Model -> vendor, description and exposes."""
    found: dict[str, Any] = json.loads(DEFINITIONS_FILE.read_text())
    return found


def ieee(index: int) -> str:
    """The address `bridge_devices` gives its `index`-th device (for building `bridge/groups`)."""
    return f"0x{index:016x}"


def bridge_devices(named: Mapping[str, str | None]) -> bytes:
    """`bridge/devices` for friendly name -> model (None: a device Zigbee2MQTT has no definition for)."""
    listed = [
        {
            "friendly_name": name,
            "ieee_address": ieee(index),
            "definition": None if model is None else {"model": model, **definitions()[model]},
        }
        for index, (name, model) in enumerate(named.items())
    ]
    return json.dumps(listed).encode()
