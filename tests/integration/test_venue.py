"""Check-in to room change, end to end: real Mosquitto, real simulated devices, the real service.

Assertions are on what the *devices report* over MQTT and on the event record, never on internals.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.cli.broker import EmbeddedBroker, MosquittoBroker
from testkit.waiting import wait_until
from tests.integration.harness import Venue, example_venue, run, running_venue

pytestmark = pytest.mark.integration


def z2m_brightness(pct: float) -> int:
    return round(pct * 254 / 100)


def mired(kelvin: float) -> int:
    return round(1_000_000 / kelvin)


def reads_book_club(v: Venue) -> bool:
    """The room as examples/profiles/book-club.yaml wants it: 80 %, 2700 K, volume 15, lavender."""
    lamp, speaker, diffuser, hvac = (v.device(d) for d in ("lounge-lamp-1", "lounge-speaker", "diffuser", "hvac"))
    return (
        lamp["state"] == "ON"
        and lamp["brightness"] == z2m_brightness(80)
        and lamp["color_temp"] == mired(2700)
        and speaker["volume"] == 15
        and speaker["playlist"] == "quiet-piano"
        and speaker["state"] == "PLAY"
        and diffuser["scent"] == "lavender"
        and diffuser["intensity"] == 40
        and hvac["current_heating_setpoint"] == 22  # a Tuya TV02 valve (examples/venue.yaml)
    )


def test_kiosk_checkins_turn_the_room_to_the_community(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_venue(example_venue(mosquitto.url, tmp_path)) as v:
            # Nobody is here: the venue's default profile (house: 60 %, 3000 K, house-jazz) drives the room.
            await wait_until(lambda: v.device("lounge-speaker")["playlist"] == "house-jazz", what="house profile")
            assert v.device("bar-pendant")["brightness"] == z2m_brightness(60)
            assert v.device("bar-pendant")["color_temp"] == mired(3000)

            v.kiosk.checkin("ana", "book-club")
            # One member is below book-club's quorum of 2: nothing changes.
            await wait_until(lambda: len(v.events("checkin")) == 1, what="first check-in recorded")
            v.kiosk.checkin("ben", "book-club")
            await wait_until(lambda: reads_book_club(v), what="the room in book-club's mood")

            state = await wait_until(
                lambda: (
                    (v.listener.json(v.state_topic) or {}).get("active_profile") == "book-club"
                    and v.listener.json(v.state_topic)
                )
            )
            assert state["headcount"] == {"book-club": 2}
            assert state["zones"]["lounge"]["lighting"]["brightness"] == 80
            assert [e.payload["member_id"] for e in v.events("checkin")] == ["ana", "ben"]
            activated = [e.payload["community_id"] for e in v.events("profile_activated")]
            assert activated == ["house", "book-club"]
            # Commands are recorded as they go out, without waiting for the disk: the record catches up at once.
            await wait_until(
                lambda: any(
                    e.payload["device_id"] == "diffuser" and e.payload["payload"].get("scent") == "lavender"
                    for e in v.events("command_sent")
                ),
                timeout_s=5,
                what="the diffuser's command in the record",
            )

    run(scenario)


def test_a_community_that_grows_past_another_takes_the_room(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_venue(example_venue(mosquitto.url, tmp_path)) as v:
            for member in ("ana", "ben"):
                v.kiosk.checkin(member, "book-club")
            await wait_until(lambda: reads_book_club(v), what="book-club's room")
            for member in ("sam", "sia", "raj"):
                v.kiosk.checkin(member, "spicy-tech-gossip")
            # spicy-tech-gossip: bar zone #ff6a00 at 40 %, lounge 70 % at 2700 K, lofi-gossip.
            # Occupancy: 5 people -> volume 35 + 3 * 0.5 = 36.5 -> 36 or 37 after rounding; target 21.5 - 0.25.
            await wait_until(lambda: v.device("lounge-speaker")["playlist"] == "lofi-gossip", what="spicy audio")
            await wait_until(lambda: v.device("bar-pendant").get("color_mode") == "xy", what="bar in colour")
            bar = v.device("bar-pendant")
            assert bar["brightness"] == z2m_brightness(40)
            assert bar["color"]["x"] == pytest.approx(0.6, abs=0.08)  # a deep orange
            lounge = v.device("lounge-lamp-1")
            await wait_until(lambda: v.device("lounge-lamp-1")["brightness"] == z2m_brightness(70), what="lounge")
            assert lounge["color_temp"] == mired(2700)
            assert v.device("lounge-speaker")["volume"] in (36, 37)
            assert v.device("diffuser")["scent"] == "cedar"
            state = v.listener.json(v.state_topic)
            await wait_until(lambda: v.listener.json(v.state_topic)["active_profile"] == "spicy-tech-gossip")
            assert v.listener.json(v.state_topic)["headcount"] == {"book-club": 2, "spicy-tech-gossip": 3}
            assert state is not None

    run(scenario)


def test_limits_clamp_and_each_clamp_is_recorded(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_venue(example_venue(mosquitto.url, tmp_path)) as v:
            for member in ("sam", "sia"):
                v.kiosk.checkin(member, "spicy-tech-gossip")
            await wait_until(lambda: v.device("lounge-speaker")["playlist"] == "lofi-gossip", what="spicy audio")
            profile = {
                "community_id": "spicy-tech-gossip",
                "name": "Spicy & loud",
                "quorum": 2,
                "audio": {"playlist": "lofi-gossip", "volume": 95, "state": "play"},
                "climate": {"target_c": 30},
            }
            v.kiosk.raw("ambience/profiles/spicy-tech-gossip", json.dumps(profile), retain=True)
            await wait_until(lambda: v.device("lounge-speaker")["volume"] == 70, what="volume capped at max_volume")
            await wait_until(lambda: v.device("hvac")["current_heating_setpoint"] == 26, what="heat capped at 26")
            clamps = {(e.payload["field"], e.payload["limit"], e.payload["applied"]) for e in v.events("limit_clamped")}
            assert ("audio.volume", "max_volume", 70) in clamps
            assert ("climate.target_c", "max_temp_c", 26) in clamps
            assert [e.payload["community_id"] for e in v.events("profile_updated")][-1] == "spicy-tech-gossip"
            v.kiosk.raw("ambience/profiles/spicy-tech-gossip", b"", retain=True)  # clear the retained profile

    run(scenario)


def test_bad_input_is_rejected_and_changes_nothing(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_venue(example_venue(mosquitto.url, tmp_path)) as v:
            vid = v.config.venue.id
            await wait_until(lambda: v.device("lounge-speaker")["playlist"] == "house-jazz", what="house profile")
            await wait_until(lambda: v.listener.json(v.state_topic) is not None, what="state published")
            sent_before = len(v.events("command_sent"))

            v.kiosk.raw(f"ambience/{vid}/checkin", b"{not json")
            v.kiosk.checkin("zed", "chess-club")  # a community this venue does not know
            v.kiosk.raw(f"ambience/{vid}/checkin", json.dumps({"community_id": "book-club"}))  # no member
            v.kiosk.checkout("nobody")  # not checked in
            bad_profile = {"community_id": "book-club", "name": "x", "lighting": {"brightness": 140, "colour": "red"}}
            v.kiosk.raw("ambience/profiles/book-club", json.dumps(bad_profile))

            rejected = await wait_until(
                lambda: len(v.events("input_rejected")) == 5 and v.events("input_rejected"), what="five rejections"
            )
            errors = [{(e["path"], e["message"]) for e in r.payload["errors"]} for r in rejected]
            assert errors[0] == {("(payload)", 'must be a JSON object like {"member_id": .., "community_id": ..}')}
            assert errors[1] == {("community_id", "unknown community 'chess-club'")}
            assert ("member_id", "must be a non-empty string of at most 128 characters") in errors[2]
            assert errors[3] == {("member_id", "'nobody' is not checked in")}
            assert ("lighting.brightness", "must be <= 100") in errors[4]
            assert ("lighting.colour", "unknown field") in errors[4]
            # Each rejection was also said back on the venue's rejected topic, for kiosks to show.
            await wait_until(lambda: len(v.listener.messages(f"ambience/{vid}/rejected")) == 5, what="rejected topic")

            # Nothing else changed: nobody is present, no command went out, the profile is as it was.
            assert v.events("checkin") == [] and v.events("profile_updated")[-1].payload["community_id"] != "x"
            assert len(v.events("command_sent")) == sent_before
            assert v.service.state.presence.total == 0
            assert v.service.state.profiles["book-club"].lighting is not None
            assert v.service.state.profiles["book-club"].lighting.brightness == 80

            # And the service still works.
            for member in ("ana", "ben"):
                v.kiosk.checkin(member, "book-club")
            await wait_until(lambda: reads_book_club(v), what="book-club's room after bad input")

    run(scenario)


def test_presence_and_room_survive_a_restart_of_the_service(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    config = example_venue(mosquitto.url, tmp_path)

    async def scenario() -> None:
        async with running_venue(config) as v:
            for member in ("ana", "ben"):
                v.kiosk.checkin(member, "book-club")
            await wait_until(lambda: reads_book_club(v), what="book-club's room")
        async with running_venue(config) as v:
            # The new process knows who is here from the record: the room stays book-club's, no command needed.
            await wait_until(
                lambda: (v.listener.json(v.state_topic) or {}).get("active_profile") == "book-club",
                what="book-club still active after restart",
            )
            assert v.service.state.presence.headcount() == {"book-club": 2}
            v.kiosk.checkout("ben")
            await wait_until(lambda: v.device("lounge-speaker")["playlist"] == "house-jazz", what="back to house")

    run(scenario)


def test_the_embedded_broker_runs_a_venue(tmp_path: Path) -> None:
    """The path `ambience demo` takes on a machine without Mosquitto."""

    async def scenario() -> None:
        broker = EmbeddedBroker()
        await broker.start()
        try:
            async with running_venue(example_venue(broker.url, tmp_path)) as v:
                for member in ("ana", "ben"):
                    v.kiosk.checkin(member, "book-club")
                await wait_until(lambda: reads_book_club(v), what="book-club's room on amqtt")
                assert [e.payload["member_id"] for e in v.events("checkin")] == ["ana", "ben"]
        finally:
            await broker.stop()

    run(scenario)
