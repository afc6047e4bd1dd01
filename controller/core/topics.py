"""The controller's own MQTT topics (docs/contract.md §4), in one place for the service and the Home Assistant
discovery."""

from __future__ import annotations

from dataclasses import dataclass

PROFILES = "ambience/profiles/"


@dataclass(frozen=True, slots=True)
class Topics:
    status: str  # retained online/offline, with a last will
    checkin: str
    checkout: str
    state: str  # retained JSON: headcount, active profile, phase, forced profile, desired ambience
    rejected: str  # why an input was refused
    # A profile to force, e.g. from Home Assistant's select: a community id, `Automatic` (or empty) for the venue's
    # policy again, or JSON {"community_id": id | null}. Not `auto`: that is a valid community id.
    force: str
    broker_check: str  # retained marker of `ambience run`'s persistence check (controller/shell/broker_check.py)
    profiles: str = PROFILES

    @staticmethod
    def of(venue_id: str) -> Topics:
        prefix = f"ambience/{venue_id}"
        return Topics(
            status=f"{prefix}/status",
            checkin=f"{prefix}/checkin",
            checkout=f"{prefix}/checkout",
            state=f"{prefix}/state",
            rejected=f"{prefix}/rejected",
            force=f"{prefix}/force",
            broker_check=f"{prefix}/broker-check",
        )
