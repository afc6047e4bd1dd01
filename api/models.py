"""The API's request and response bodies, and its error bodies.

Response models are declared on every route so that the OpenAPI document is what clients (and schemathesis) can
rely on. Views the service builds (state, devices, events, health) allow extra fields: a field the service adds
later reaches clients instead of being silently dropped by the response model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import Path
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from controller.core.inputs import ECHO_MAX, MEMBER_ID_MAX
from profiles.errors import FieldError, field_errors
from profiles.profile import Profile
from profiles.units import Slug

BODY = "(body)"
"""The path of an error about the request body as a whole (missing, not JSON)."""

Timestamp = Annotated[
    str, Field(description="ISO 8601 time with its UTC offset", json_schema_extra={"format": "date-time"})
]


def _not_blank(value: str) -> str:
    """Kiosks send ids read from tags; an id of only spaces is a misread, as the MQTT path also says."""
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    return value


CommunityId = Slug
"""A community's id wherever the API takes one: the id profiles use (1-64 of a-z, 0-9, '-', '_'), so an id that no
community can have is refused at its field (422) before anything looks it up or repeats it."""

CommunityPath = Annotated[CommunityId, Path(description="The community's id")]
"""`{community_id}` in a URL, checked like every other community id."""

MemberId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MEMBER_ID_MAX,
        description="The member's id as the kiosk knows it (an NFC tag, a QR code)",
        json_schema_extra={"pattern": r"\S"},
    ),
    AfterValidator(_not_blank),
]


class _Body(BaseModel):
    """Request bodies reject unknown fields, like profiles do: a misspelt field must not silently do nothing."""

    model_config = ConfigDict(extra="forbid")


class _View(BaseModel):
    """A view built by the service: the fields declared here, plus whatever the service adds later."""

    model_config = ConfigDict(extra="allow")


# -- errors -----------------------------------------------------------------------------------------------------


class Problem(BaseModel):
    """Every error except invalid input: `{"detail": "one human sentence"}`."""

    detail: str


class FieldProblem(BaseModel):
    """One invalid field: `path` is dotted (`lighting.zones.bar.brightness`), `message` a short phrase."""

    path: str
    message: str


class ValidationProblem(BaseModel):
    """Invalid input (422): every problem found, each at its field path."""

    detail: list[FieldProblem]


DETAIL_MAX = 4 * ECHO_MAX
"""The longest error text sent (a detail, a path, a message): what routes repeat is cut already (`shown`); this is
the backstop, so that no error, whatever it names (an unknown field's key, say), is as large as the input."""


def cut(text: str, limit: int = DETAIL_MAX) -> str:
    """`text`, or its first `limit` - 1 characters and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validation_problem(errors: list[FieldError]) -> dict[str, Any]:
    problems = [FieldProblem(path=cut(e.path), message=cut(e.message)) for e in errors]
    return ValidationProblem(detail=problems).model_dump()


_NOT_AN_OBJECT = {"model_attributes_type", "model_type", "dict_type"}


def _human(error: Mapping[str, Any]) -> str:
    """The wording `ambience check` uses (profiles.errors), by re-raising the error as pydantic's own."""
    kind = str(error.get("type", ""))
    details: dict[str, Any] = {"loc": (), "input": error.get("input")}
    if error.get("ctx"):
        details["ctx"] = error["ctx"]
    try:
        exc = ValidationError.from_exception_data("request", [{**details, "type": kind}])  # type: ignore[typeddict-item]
    except Exception:  # our own error types (a slug, a colour) speak human already
        exc = ValidationError.from_exception_data(
            "request",
            [{**details, "type": PydanticCustomError(kind, str(error.get("msg", "is invalid")))}],  # type: ignore[typeddict-item]
        )
    return field_errors(exc)[0].message


def request_errors(exc: RequestValidationError) -> list[FieldError]:
    """FastAPI's validation errors in our shape: body fields by their path in the body, parameters as `query.limit`."""
    out: list[FieldError] = []
    for error in exc.errors():
        where, *rest = tuple(str(part) for part in error.get("loc", ())) or ("body",)
        path = (".".join(rest) or BODY) if where == "body" else ".".join([where, *rest])
        kind = error.get("type")
        if kind == "json_invalid":
            out.append(FieldError(BODY, f"must be valid JSON ({error.get('ctx', {}).get('error', 'unreadable')})"))
        elif path == BODY and kind in _NOT_AN_OBJECT:
            out.append(FieldError(BODY, "must be a JSON object"))
        else:
            out.append(FieldError(path, _human(error)))
    return out


# -- health ------------------------------------------------------------------------------------------------------


class ForwarderHealth(BaseModel):
    lag: int = Field(description="Events in the record not yet accepted by InfluxDB")
    last_error: str | None = Field(description="Why the last write failed; null once a write succeeds")


class Health(_View):
    status: Literal["ok"]
    mqtt: Literal["connected", "disconnected"]
    record_backlog: int = Field(description="Events emitted but not yet committed to the record")
    uptime_s: float
    forwarder: ForwarderHealth | None = Field(default=None, description="The InfluxDB forwarder; null if none")


# -- communities -------------------------------------------------------------------------------------------------


class CommunityCreate(_Body):
    id: Slug
    name: Annotated[str, Field(min_length=1, max_length=100)]


class CommunityCreated(BaseModel):
    id: str
    name: str
    token: str = Field(description="The community's API token; shown only in this response, stored only hashed")


class CommunitySummary(BaseModel):
    id: str
    name: str
    registered: bool = Field(description="Registered through the API (it has a token)")
    has_profile: bool


# -- profiles ----------------------------------------------------------------------------------------------------


class ProfileVersionView(BaseModel):
    version: int
    etag: str = Field(description="The version's ETag, unquoted (HTTP headers carry it quoted)")
    author: str = Field(description='"admin", "community:<id>", "mqtt" (the hub) or "seed:<file>"')
    created_at: Timestamp
    profile: Profile


# -- presence ----------------------------------------------------------------------------------------------------


class CheckInRequest(_Body):
    member_id: MemberId
    community_id: CommunityId


class CheckInResult(BaseModel):
    member_id: str
    community_id: str
    status: Literal["checked_in", "already_present"]


class CheckOutRequest(_Body):
    member_id: MemberId


class CheckOutResult(BaseModel):
    member_id: str
    status: Literal["checked_out"]


# -- state, devices, events ----------------------------------------------------------------------------------------


class StateView(_View):
    """Before the first reconcile only `venue`, `present` and `active_since` are known."""

    venue: str
    present: dict[str, list[str]] = Field(description="Members present, per community")
    active_since: dict[str, Timestamp] = Field(description="When each active community's profile became active")
    headcount: dict[str, int] | None = None
    total: int | None = None
    eligible: list[str] | None = None
    active_profile: str | None = Field(None, description="The community whose profile leads, if any")
    active: list[str] | None = None
    source: str | None = Field(None, description="How the active profile was chosen: community, forced, default, none")
    forced: str | None = Field(None, description="The profile an operator forced, while it drives the room")
    phase: str | None = None
    zones: dict[str, dict[str, Any]] | None = Field(None, description="The desired ambience per zone, in human units")


class ForcedProfile(_Body):
    """A profile to drive the room whoever is here (a booking, an event), or null for the venue's policy again."""

    community_id: CommunityId | None = Field(description="A community with a profile, or null to stop forcing")


class DeviceView(_View):
    id: str
    kind: str
    zone: str
    driver: str
    supported: bool
    desired: dict[str, Any] | None
    reported: dict[str, Any] | None
    online: bool | None = Field(description="null until the device said anything")
    last_seen: Timestamp | None
    pending: dict[str, Any] | None = Field(description="Commanded but not yet confirmed by a report")
    in_sync: bool = Field(
        description="Whether what it reports satisfies what is desired, within the comparison tolerances "
        "(false while either is unknown)"
    )
    adapted: list[str] = Field(
        description="How `desired` was adapted to what the device can take (a setpoint rounded to its step, a "
        "colour as the nearest white, a mode it lacks); empty when it takes what the room wants as it is"
    )
    capabilities: dict[str, Any] = Field(
        description="What the device can take and where that was learned (`source`: bridge/devices, hue, "
        "default): `fields`, `color_temp_k` [warmest, coldest], `setpoint` {key, min, max, step}, `modes`"
    )


class EventView(_View):
    """An event of the record: these fields plus its type's own (`member_id`, `device_id`, ...)."""

    id: int
    ts: Timestamp
    venue: str
    type: str


class EventPage(BaseModel):
    events: list[EventView]
    next_since: int = Field(description="Pass as `since` for the next page: the id of the last event returned")
