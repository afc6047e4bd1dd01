"""The forwarder's point schema (docs/telemetry.md), no network: textual values are tags, numbers are fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from influxdb_client.client.write.point import Point

from controller.shell.forwarder import (
    FORWARDER_MEASUREMENT,
    HEADCOUNT_MEASUREMENT,
    MEASUREMENT,
    delivery_point,
    event_time_ns,
    to_points,
)
from controller.shell.record import Event

T0 = datetime(2024, 5, 1, 18, 0, 0, 123456, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 1_000_000_000 + 123456 * 1000


def event(id_: int, type_: str, payload: dict[str, Any], ts: datetime = T0) -> Event:
    return Event(id_, ts, "venue-x", type_, payload)


def line(point: Point) -> str:
    text: str = point.to_line_protocol()  # type: ignore[no-untyped-call]
    return text


def parse(point: Point) -> tuple[str, dict[str, str], dict[str, str], int]:
    """(measurement, tags, fields as written, time) from the line protocol; no spaces or commas in test values.

    In the line protocol `7i` is an int field, `7` and `0.5` are float fields."""
    head, fields_text, time_text = line(point).split(" ")
    measurement, *tag_parts = head.split(",")
    tags = dict(p.split("=", 1) for p in tag_parts)
    fields = dict(p.split("=", 1) for p in fields_text.split(","))
    return measurement, tags, fields, int(time_text)


def test_checkin_has_venue_type_and_community_tags_no_member_and_numeric_present() -> None:
    points = to_points(
        [event(7, "checkin", {"member_id": "ana", "community_id": "yoga", "source": "mqtt", "present": 3})]
    )
    [(measurement, tags, fields, time_ns)] = [p for p in map(parse, points) if p[0] == MEASUREMENT]
    assert measurement == MEASUREMENT
    assert tags == {"venue": "venue-x", "type": "checkin", "community_id": "yoga", "source": "mqtt"}
    assert fields == {"event_id": "7i", "present": "3"}
    assert time_ns == T0_NS + 7


def test_device_state_numbers_are_float_fields_text_is_tags_booleans_are_0_or_1() -> None:
    light = event(
        1001,
        "device_state",
        {
            "device_id": "lamp-1",
            "kind": "light",
            "state": {"on": True, "brightness": 50, "color_temp_k": 2700, "color_xy": [0.3, 0.4]},
        },
    )
    thermostat = event(
        1002,
        "device_state",
        {"device_id": "tstat", "kind": "thermostat", "state": {"target_c": 21.5, "local_temp_c": 20, "mode": "heat"}},
    )
    [p1, p2] = to_points([light, thermostat])
    _, tags1, fields1, t1 = parse(p1)
    assert tags1 == {"venue": "venue-x", "type": "device_state", "device_id": "lamp-1", "kind": "light"}
    assert fields1 == {
        "event_id": "1001i",
        "state_on": "1",
        "state_brightness": "50",  # float even when reported as an int: a field's type never changes
        "state_color_temp_k": "2700",
        "state_color_x": "0.3",
        "state_color_y": "0.4",
    }
    assert t1 == T0_NS + 1  # id % 1000
    _, tags2, fields2, _ = parse(p2)
    assert tags2["state_mode"] == "heat"
    assert fields2 == {"event_id": "1002i", "state_target_c": "21.5", "state_local_temp_c": "20"}


def test_profile_activated_has_total_and_one_headcount_point_per_community() -> None:
    points = to_points(
        [
            event(
                5,
                "profile_activated",
                {
                    "community_id": "yoga",
                    "active": ["yoga"],
                    "source": "headcount",
                    "previous": None,
                    "headcount": {"yoga": 4, "chess": 1},
                },
            )
        ]
    )
    parsed = [parse(p) for p in points]
    headcounts = {tags["community_id"]: fields for m, tags, fields, _ in parsed if m == HEADCOUNT_MEASUREMENT}
    assert headcounts == {"chess": {"present": "1", "event_id": "5i"}, "yoga": {"present": "4", "event_id": "5i"}}
    [main] = [p for p in parsed if p[0] == MEASUREMENT]
    assert main[1]["community_id"] == "yoga"
    assert main[2] == {"event_id": "5i", "headcount_total": "5", "active_count": "1"}
    assert {p[3] for p in parsed} == {T0_NS + 5}


def test_limit_clamped_and_command_sent() -> None:
    clamp = event(
        9,
        "limit_clamped",
        {"zone": "*", "field": "audio.volume", "requested": 90, "applied": 60, "limit": "max_volume"},
    )
    command = event(10, "command_sent", {"device_id": "lamp-1", "topic": "z2m/lamp-1/set", "payload": {"state": "ON"}})
    [p1, p2] = to_points([clamp, command])
    _, tags, fields, _ = parse(p1)
    assert tags["field"] == "audio.volume" and tags["limit"] == "max_volume" and tags["zone"] == "*"
    assert fields == {"event_id": "9i", "requested": "90", "applied": "60"}
    _, tags, fields, _ = parse(p2)
    assert tags == {"venue": "venue-x", "type": "command_sent", "device_id": "lamp-1"}  # the topic is not a tag
    assert fields == {"event_id": "10i"}


def test_time_is_utc_whatever_the_offset_and_naive_means_utc() -> None:
    plus2 = T0.astimezone(timezone(timedelta(hours=2)))
    naive = T0.replace(tzinfo=None)
    assert event_time_ns(event(1000, "x", {}, plus2)) == T0_NS
    assert event_time_ns(event(1000, "x", {}, naive)) == T0_NS


def test_odd_payloads_never_raise() -> None:
    odd = event(3, "device_state", {"device_id": 5, "state": {"name": "x" * 500, "volume": None, "color_xy": [1]}})
    [point] = to_points([odd])
    _, tags, fields, _ = parse(point)
    assert tags == {"venue": "venue-x", "type": "device_state"}
    assert fields == {"event_id": "3i"}
    assert to_points([]) == []


def test_every_presence_change_writes_the_headcount_of_the_communities_it_changed() -> None:
    """No gaps: an expiry and a move update the count of the community left, not only profile activations."""
    points = to_points(
        [
            event(1, "checkin", {"member_id": "ana", "community_id": "yoga", "present": 1}),
            event(
                2,
                "checkin",
                {
                    "member_id": "ana",
                    "community_id": "chess",
                    "present": 1,
                    "moved_from": "yoga",
                    "moved_from_present": 0,
                },
            ),
            event(3, "checkin_expired", {"member_id": "ben", "community_id": "chess", "present": 0}),
            event(4, "checkout", {"member_id": "cy", "community_id": "yoga", "present": 2}),
            event(5, "device_state", {"device_id": "lamp", "kind": "light", "state": {"on": True}}),
        ]
    )
    counts = [
        (int(fields["event_id"][:-1]), tags["community_id"], fields["present"])
        for m, tags, fields, _ in map(parse, points)
        if m == HEADCOUNT_MEASUREMENT
    ]
    assert counts == [(1, "yoga", "1"), (2, "chess", "1"), (2, "yoga", "0"), (3, "chess", "0"), (4, "yoga", "2")]


def test_delivery_point_says_how_far_behind_the_copy_is() -> None:
    sent = T0 + timedelta(seconds=42, microseconds=500)
    point = delivery_point("venue-x", batch_events=1000, lag_events=250, oldest=T0, now=sent)
    measurement, tags, fields, time_ns = parse(point)
    assert measurement == FORWARDER_MEASUREMENT
    assert tags == {"venue": "venue-x"}
    assert fields == {"batch_events": "1000", "lag_events": "250", "delay_s": "42.001"}
    assert time_ns == T0_NS + (42 * 1_000_000 + 500) * 1000  # when it was sent, not when the events happened


def test_delivery_point_never_reports_a_negative_delay_for_a_clock_that_stepped_back() -> None:
    point = delivery_point("venue-x", batch_events=1, lag_events=0, oldest=T0, now=T0 - timedelta(seconds=3))
    assert parse(point)[2]["delay_s"] == "0"
