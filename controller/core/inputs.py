"""Input from outside (kiosks, the hub, tools) turned into our own values at the edge, or refused with its reasons.

Everything here is pure: bytes in, values or field errors out. The rule that matters most: what passes here can be
stored. A JSON payload may spell a lone surrogate (`"ana\\ud800"`), which Python decodes into a string that UTF-8,
and so the record, refuses; such text is refused here, with its field, like any other invalid value, so that a
kiosk's bad message is rejected and acknowledged instead of failing the record's commit after it was accepted.
Values echoed back in an error are cut short (`shown`): an error about a 5 MB id must not be 5 MB itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from controller.core.home_assistant import parse_force
from controller.core.messages import CheckIn, CheckOut, Force, HomeAssistantBirth, HubProfile, Input, Rejected
from controller.core.topics import Topics
from devices.units import encodable
from devices.z2m import decode_json_object
from profiles.errors import FieldError, ProfileError
from profiles.loader import parse_profile
from profiles.units import SLUG_PATTERN

__all__ = [
    "ECHO_MAX",
    "MEMBER_ID_MAX",
    "Kiosk",
    "decode_object",
    "invalid_text",
    "parse_kiosk",
    "parse_message",
    "shown",
]

MEMBER_ID_MAX = 128
"""A member id is a card number, a QR payload or a name; 128 characters hold any of them."""

ECHO_MAX = 80
"""How much of an offending value an error repeats."""

_SLUG = re.compile(SLUG_PATTERN)


def shown(value: object, limit: int = ECHO_MAX) -> str:
    """`repr(value)`, cut to about `limit` characters with an ellipsis: safe to log, record and publish."""
    text = repr(value[: limit + 1] if isinstance(value, str | bytes) else value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def invalid_text(value: object) -> str | None:
    """Where (a path inside `value`) a string is not valid Unicode, or None when every key and string is."""

    def walk(item: object, path: str) -> str | None:
        if isinstance(item, str):
            return None if encodable(item) else path or "(value)"
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or not encodable(key):
                    return f"{path}.(key)" if path else "(key)"
                if (found := walk(child, f"{path}.{key}" if path else key)) is not None:
                    return found
        elif isinstance(item, list):
            for index, child in enumerate(item):
                if (found := walk(child, f"{path}.{index}" if path else str(index))) is not None:
                    return found
        return None

    return walk(value, "")


def decode_object(payload: bytes, example: str) -> tuple[dict[str, object] | None, list[FieldError]]:
    """A JSON object whose every text can be stored, or the reason it is not one (`example` shows the right shape)."""
    value = decode_json_object(payload)  # the devices' decoder: UTF-8, JSON without NaN, an object
    if value is None:
        return None, [FieldError("(payload)", f"must be a JSON object like {example}")]
    if (path := invalid_text(value)) is not None:
        return None, [FieldError(path, "must be valid Unicode text (it holds a lone surrogate)")]
    return value, []


@dataclass(frozen=True, slots=True)
class Kiosk:
    """A kiosk's check-in or check-out, as validated: `community_id` is empty for a check-out."""

    member_id: str
    community_id: str


KIOSK_EXAMPLE = '{"member_id": .., "community_id": ..}'


def parse_kiosk(
    payload: bytes, *, need_community: bool, knows: Callable[[str], bool]
) -> tuple[Kiosk | None, list[FieldError]]:
    """A kiosk message (`ambience/<venue>/checkin` or `/checkout`), or every problem with it.

    `knows` says whether the venue knows a community (checked only for a well-formed id)."""
    data, errors = decode_object(payload, KIOSK_EXAMPLE)
    if data is None:
        return None, errors
    member = data.get("member_id")
    if not isinstance(member, str) or not member.strip() or len(member) > MEMBER_ID_MAX:
        errors.append(FieldError("member_id", f"must be a non-empty string of at most {MEMBER_ID_MAX} characters"))
    community = data.get("community_id")
    if need_community:
        if not isinstance(community, str) or not community:
            errors.append(FieldError("community_id", "required"))
        elif not _SLUG.fullmatch(community):
            errors.append(
                FieldError("community_id", f"{shown(community)} is not a community id (a-z, 0-9, - and _, at most 64)")
            )
        elif not knows(community):
            errors.append(FieldError("community_id", f"unknown community {shown(community)}"))
    if errors or not isinstance(member, str):
        return None, errors
    return Kiosk(member, community if isinstance(community, str) else ""), []


def parse_message(
    topics: Topics, topic: str, payload: bytes, *, knows: Callable[[str], bool], birth_topic: str | None = None
) -> Input | None:
    """A message on one of the venue's own topics as a typed input (refused input as `Rejected`); None for a
    topic that is not ours or a message that asks nothing (a cleared retained profile, Home Assistant going away).

    `knows` says whether the venue knows a community; `birth_topic` is Home Assistant's status topic, if watched."""
    if topic == topics.checkin:
        kiosk, errors = parse_kiosk(payload, need_community=True, knows=knows)
        if kiosk is None:
            return Rejected(topic, tuple(errors))
        return CheckIn(kiosk.member_id, kiosk.community_id, "mqtt", topic)
    if topic == topics.checkout:
        kiosk, errors = parse_kiosk(payload, need_community=False, knows=knows)
        if kiosk is None:
            return Rejected(topic, tuple(errors))
        return CheckOut(kiosk.member_id, "mqtt", topic)
    if topic.startswith(topics.profiles):
        return _hub_profile(topic, topic[len(topics.profiles) :], payload)
    if topic == topics.force:
        community_id, error = parse_force(payload)
        if error is not None:
            return Rejected(topic, (FieldError("(payload)", error),))
        return Force(community_id, "mqtt", topic)
    if birth_topic is not None and topic == birth_topic:
        return HomeAssistantBirth() if payload.strip() == b"online" else None
    return None


def _hub_profile(topic: str, community_id: str, payload: bytes) -> Input | None:
    if not payload:  # a cleared retained message: nothing to store
        return None
    data, errors = decode_object(payload, "a profile")
    if data is None:
        return Rejected(topic, tuple(errors))
    try:
        profile = parse_profile(data)
    except ProfileError as exc:
        return Rejected(topic, tuple(exc.errors))
    if profile.community_id != community_id:
        return Rejected(topic, (FieldError("community_id", f"must match the topic ({shown(community_id)})"),))
    return HubProfile(profile, topic)
