"""The Hue client's error tree: which exception a bridge's error objects (or phue's own exceptions) become."""

from __future__ import annotations

import phue
import pytest

from devices.hue_client import (
    ApiErrorObject,
    HueApiError,
    HueError,
    HueLinkButtonNotPressed,
    HueUnauthorized,
    HueUnreachable,
    _phue_errors,
    api_error,
)

OFF = ApiErrorObject(201, "/lights/3/state/bri", "parameter, bri, is not modifiable. Device is set to off.")
UNAUTHORIZED = ApiErrorObject(1, "/lights", "unauthorized user")


def test_the_tree() -> None:
    assert issubclass(HueUnreachable, HueError)
    assert issubclass(HueUnauthorized, HueApiError)
    assert issubclass(HueLinkButtonNotPressed, HueApiError)
    assert not issubclass(HueApiError, HueUnreachable)


def test_an_api_error_carries_the_first_errors_facts_and_counts_the_rest() -> None:
    error = api_error("hue.local", [OFF, ApiErrorObject(201, "/lights/3/state/ct", "ct too")])
    assert type(error) is HueApiError
    assert (error.type, error.address, error.description) == (201, OFF.address, OFF.description)
    assert len(error.errors) == 2
    assert str(error) == f"Hue bridge hue.local: {OFF.description} (error 201 at {OFF.address}) (+1 more)"


def test_unauthorized_trumps_and_101_is_the_link_button() -> None:
    assert type(api_error("h", [OFF, UNAUTHORIZED])) is HueUnauthorized
    link = api_error("h", [ApiErrorObject(101, "", "link button not pressed")])
    assert type(link) is HueLinkButtonNotPressed
    assert "press it" in str(link)
    with pytest.raises(ValueError, match="at least one"):
        HueApiError("h", [])


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (phue.PhueRegistrationException(101, "press the button"), HueLinkButtonNotPressed),
        (phue.PhueRequestTimeout(None, "GET timed out"), HueUnreachable),
        (phue.PhueException(7, "Unknown username"), HueApiError),
    ],
)
def test_phues_own_exceptions_are_mapped(raised: Exception, expected: type[HueError]) -> None:
    with pytest.raises(expected) as caught, _phue_errors("h"):
        raise raised
    assert caught.value.host == "h"
