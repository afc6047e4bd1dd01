"""The venue core's rules as inputs in, events and commands out: no broker, no loop, no clock.

Each test used to need a real Mosquitto and the whole service (tests/integration/test_venue.py still runs them
that way); here a rule is one `step` and a recording Zigbee2MQTT driver, in milliseconds.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.core import events as ev
from controller.core import messages as msg
from controller.core.inputs import parse_message
from controller.core.outputs import DeviceReturned, Drive, Emit, PresenceUpsert, Publish, StateSet, Step, StoreProfile
from controller.core.presence import CheckIn
from controller.core.state import VenueState, Work
from controller.core.venue import step
from devices.capabilities import DeviceCapabilities
from devices.driver import Availability, Capabilities, Report, Sent
from devices.states import LightState
from devices.units import mired_to_kelvin, percent_to_z2m
from devices.z2m_driver import Z2MDriver
from profiles.loader import load_profile, load_venue
from profiles.profile import Lighting
from profiles.store import ProfileVersion
from testkit.z2m import bridge_devices

ROOT = Path(__file__).resolve().parents[2]
VENUE = load_venue(ROOT / "examples" / "venue.yaml")
PROFILES = {p.community_id: p for p in (load_profile(f) for f in sorted((ROOT / "examples" / "profiles").glob("*")))}
T0 = datetime(2026, 12, 8, 19, 0, tzinfo=UTC)
TOPICS = VenueState.initial(VENUE).site.topics
LAMP = "lounge-lamp-1"


class RecordingVenue:
    """The core with a recording driver: what a shell would record, publish and send, kept in lists."""

    def __init__(self) -> None:
        self.state = VenueState.initial(VENUE, profiles=PROFILES)
        self.wire: list[tuple[str, dict[str, Any]]] = []
        self.driver = Z2MDriver(
            VENUE, lambda topic, payload: self.wire.append((topic, json.loads(payload))), lambda: True
        )
        self.mono = 0.0

    def feed(self, input: msg.Input, now: datetime = T0) -> Step:
        """One step, adopted; planned commands are 'sent' by the driver and their `CommandsSent` stepped too."""
        result = step(self.state, input, now)
        self.state = result.state
        for command in result.commands:
            if isinstance(command, Drive):
                sent = self.driver.send(command.commands)
                self.state = step(self.state, msg.CommandsSent(tuple(sent)), now).state
        return result

    def kiosk(self, topic: str, body: dict[str, Any]) -> Step:
        parsed = parse_message(TOPICS, topic, json.dumps(body).encode(), knows=PROFILES.__contains__)
        assert parsed is not None
        return self.feed(parsed)

    def report(self, device_id: str, state: LightState, now: datetime = T0, live: bool = True) -> Step:
        self.mono += 1
        return self.feed(msg.Observed((Report(device_id, state, live),), self.mono), now)


def types(result: Step) -> list[str]:
    return [e.event.TYPE for e in result.events]


def published(result: Step, topic: str) -> list[str]:
    return [c.payload for c in result.commands if isinstance(c, Publish) and c.topic == topic]


def test_a_kiosk_check_in_for_an_unknown_community_is_rejected_recorded_and_changes_nothing() -> None:
    venue = RecordingVenue()
    result = venue.kiosk(TOPICS.checkin, {"member_id": "ana", "community_id": "karaoke"})
    assert types(result) == ["input_rejected"]
    assert result.events[0].durable  # acknowledged only once recorded
    (rejection,) = published(result, TOPICS.rejected)
    assert json.loads(rejection)["errors"] == [{"path": "community_id", "message": "unknown community 'karaoke'"}]
    assert result.state.presence.total == 0


def test_a_check_in_is_one_durable_event_with_its_presence_row_and_a_repeat_records_nothing() -> None:
    venue = RecordingVenue()
    first = venue.kiosk(TOPICS.checkin, {"member_id": "ana", "community_id": "book-club"})
    assert first.events == (
        Emit(ev.Checkin("ana", "book-club", "mqtt", 1), (PresenceUpsert("ana", "book-club", T0),), durable=True),
    )
    assert first.reply is CheckIn.NEW
    again = venue.kiosk(TOPICS.checkin, {"member_id": "ana", "community_id": "book-club"})
    assert again.events == () and again.reply is CheckIn.ALREADY_PRESENT


def test_a_check_out_of_someone_not_here_is_rejected_from_a_kiosk_and_false_over_http() -> None:
    venue = RecordingVenue()
    assert types(venue.kiosk(TOPICS.checkout, {"member_id": "bo"})) == ["input_rejected"]
    over_http = venue.feed(msg.CheckOut("bo"))
    assert over_http.reply is False and over_http.events == () and over_http.commands == ()


def test_a_quorum_changes_the_room_once_with_its_events_state_and_commands() -> None:
    venue = RecordingVenue()
    venue.feed(msg.Tick(plan_all=True))  # the house profile: nobody is here yet
    venue.wire.clear()
    venue.feed(msg.CheckIn("ana", "book-club"))
    venue.feed(msg.CheckIn("bo", "book-club"))
    result = venue.feed(msg.Tick())
    assert types(result) == ["profile_activated", "ambience_applied"]
    activated = result.events[0]
    assert activated.event == ev.ProfileActivated("book-club", ["book-club"], "community", "house", {"book-club": 2})
    assert activated.mutations == (StateSet("activations", {"book-club": T0.isoformat()}),)
    (state,) = published(result, TOPICS.state)
    assert json.loads(state)["active_profile"] == "book-club"
    lamp = dict(venue.wire)["zigbee2mqtt/lounge_lamp_1/set"]
    assert lamp["brightness"] == percent_to_z2m(80) and lamp["color_temp"] == 370  # 80 % and 2700 K on the wire
    assert venue.feed(msg.Tick()).events == ()  # nothing changed: nothing recorded, nothing planned


def test_a_person_at_the_switch_is_an_override_kept_in_the_record_and_not_fought() -> None:
    venue = RecordingVenue()
    venue.feed(msg.CheckIn("ana", "book-club"))
    venue.feed(msg.CheckIn("bo", "book-club"))
    venue.feed(msg.Tick(plan_all=True))
    venue.report(LAMP, LightState(on=True, brightness=80.0, color_temp_k=2700))  # the lamp confirms
    dimmed = venue.report(LAMP, LightState(on=True, brightness=20.0, color_temp_k=2700), T0 + timedelta(seconds=1))
    override = next(e for e in dimmed.events if isinstance(e.event, ev.ManualOverride))
    until = T0 + timedelta(seconds=1) + timedelta(minutes=VENUE.policy.override_minutes)
    assert override.event == ev.ManualOverride(LAMP, {"brightness": 20.0}, until.isoformat())
    assert override.mutations == (StateSet("overrides", {LAMP: until.isoformat()}),)
    venue.wire.clear()
    venue.feed(msg.Tick(plan_all=True), T0 + timedelta(minutes=5))
    assert "zigbee2mqtt/lounge_lamp_1/set" not in dict(venue.wire)  # respected for override_minutes
    venue.feed(msg.Tick(plan_all=True), until + timedelta(seconds=1))
    assert dict(venue.wire)["zigbee2mqtt/lounge_lamp_1/set"]["brightness"] == percent_to_z2m(80)  # then reasserted


def test_an_override_survives_a_restart_through_the_state_the_record_kept() -> None:
    until = T0 + timedelta(minutes=30)
    venue = RecordingVenue()
    venue.state = VenueState.initial(VENUE, profiles=PROFILES, overrides={LAMP: until})
    venue.feed(msg.Tick(plan_all=True))
    assert "zigbee2mqtt/lounge_lamp_1/set" not in dict(venue.wire)
    assert "zigbee2mqtt/lounge_lamp_2/set" in dict(venue.wire)


def test_a_device_back_online_is_recorded_held_if_flapping_and_sent_its_whole_state() -> None:
    venue = RecordingVenue()
    venue.feed(msg.Tick(plan_all=True))
    venue.report(LAMP, LightState(on=True, brightness=50.0, color_temp_k=2700))
    gone = venue.feed(msg.Observed((Availability(LAMP, False, "availability"),), 1.0))
    assert types(gone) == ["device_offline"]
    back = venue.feed(msg.Observed((Availability(LAMP, True, "availability"),), 2.0))
    assert types(back) == ["device_online"]
    assert DeviceReturned(LAMP) in back.commands  # the dispatcher decides whether it flaps
    venue.wire.clear()
    venue.feed(msg.Tick())
    lamp = dict(venue.wire)["zigbee2mqtt/lounge_lamp_1/set"]
    assert lamp["state"] == "ON" and "brightness" in lamp  # the whole desired state: it may have forgotten


def test_a_forced_profile_wins_is_kept_and_a_forced_unknown_one_is_rejected() -> None:
    venue = RecordingVenue()
    unknown = venue.feed(msg.Force("karaoke", "mqtt", TOPICS.force))
    assert types(unknown) == ["input_rejected"] and unknown.state.forced is None
    forced = venue.feed(msg.Force("spicy-tech-gossip"))
    assert forced.events == (
        Emit(ev.ProfileForced("spicy-tech-gossip", None, "http"), (StateSet("forced", "spicy-tech-gossip"),), True),
    )
    assert venue.feed(msg.Force("spicy-tech-gossip")).events == ()  # already forced
    venue.feed(msg.CheckIn("ana", "book-club"))
    venue.feed(msg.CheckIn("bo", "book-club"))
    tick = venue.feed(msg.Tick())
    assert tick.state.resolution is not None
    assert (tick.state.resolution.leader, tick.state.resolution.source) == ("spicy-tech-gossip", "forced")


def test_a_hub_profile_is_known_at_once_stored_by_the_shell_and_its_repeat_records_nothing() -> None:
    venue = RecordingVenue()
    profile = PROFILES["book-club"].model_copy(update={"community_id": "chess", "name": "Chess"})
    topic = TOPICS.profiles + "chess"
    parsed = parse_message(TOPICS, topic, json.dumps(profile.model_dump(mode="json")).encode(), knows=lambda _: False)
    assert parsed == msg.HubProfile(profile, topic)
    result = venue.feed(parsed)
    assert result.commands == (StoreProfile(profile, topic),) and "chess" in result.state.profiles
    version = ProfileVersion("chess", 1, "etag-1", profile, "mqtt", T0)
    stored = venue.feed(msg.ProfileStored(profile, version, "mqtt", changed=True))
    assert types(stored) == ["profile_updated"]
    assert venue.feed(msg.ProfileStored(profile, version, "mqtt", changed=False)).events == ()


def test_a_hub_profile_for_another_topic_is_rejected_at_the_edge() -> None:
    body = json.dumps(PROFILES["book-club"].model_dump(mode="json")).encode()
    parsed = parse_message(TOPICS, TOPICS.profiles + "chess", body, knows=lambda _: True)
    assert isinstance(parsed, msg.Rejected)
    assert [e.path for e in parsed.errors] == ["community_id"]


@pytest.mark.parametrize("retained", [True, False])
def test_a_retained_report_is_not_a_person_and_does_not_bring_a_device_online(retained: bool) -> None:
    venue = RecordingVenue()
    result = venue.report(LAMP, LightState(on=True, brightness=10.0), live=not retained)
    assert ("device_online" in types(result)) is not retained
    assert result.state.shadows[LAMP].online is (None if retained else True)


def test_a_step_carries_every_field_of_the_state_it_does_not_change() -> None:
    """`Work` copies the state's fields by name: one added to `VenueState` and not to `Work` would be lost."""
    venue = RecordingVenue()
    venue.feed(msg.CheckIn("ana", "book-club"))
    venue.feed(msg.Force("house"))
    venue.feed(msg.Tick(plan_all=True))
    venue.report(LAMP, LightState(on=True, brightness=50.0))
    before = venue.state
    assert {f.name for f in dataclasses.fields(VenueState)} <= set(Work.__slots__)
    assert Work(before, T0).done().state == before


def learn(venue: RecordingVenue, **models: str) -> None:
    seen = venue.driver.observe("zigbee2mqtt/bridge/devices", bridge_devices(models), retain=True)
    assert seen
    venue.feed(msg.Observed(tuple(seen), 0.0))


def test_a_tuya_valve_is_sent_its_own_setpoint_key_and_a_mode_it_has_and_the_adaptation_is_recorded_once() -> None:
    venue = RecordingVenue()
    learn(venue, hvac="TV02-Zigbee")
    venue.feed(msg.CheckIn("ana", "book-club"))
    venue.feed(msg.CheckIn("bo", "book-club"))
    first = venue.feed(msg.Tick())
    assert dict(venue.wire)["zigbee2mqtt/hvac/set"] == {"current_heating_setpoint": 22, "system_mode": "heat"}
    (adapted,) = [e.event for e in first.events if isinstance(e.event, ev.DeviceAdapted)]
    assert adapted.device_id == "hvac" and adapted.source == "bridge/devices"
    assert adapted.adapted == ["mode: auto becomes heat (the device has off, heat)"]
    later = venue.feed(msg.Tick(plan_all=True), T0 + timedelta(seconds=5))
    assert not [e for e in later.events if isinstance(e.event, ev.DeviceAdapted)]  # once, not every tick


def test_a_valve_that_confirms_its_adapted_state_is_not_sent_it_again() -> None:
    venue = RecordingVenue()
    learn(venue, hvac="TV02-Zigbee")
    venue.feed(msg.Tick(plan_all=True))
    payload = json.dumps({"current_heating_setpoint": 21, "system_mode": "heat", "local_temperature": 19.0})
    seen = venue.driver.observe("zigbee2mqtt/hvac", payload.encode(), retain=False)
    assert seen is not None
    venue.feed(msg.Observed(tuple(seen), 1.0))
    venue.wire.clear()
    for minute in range(1, 11):
        venue.feed(msg.Tick(plan_all=True), T0 + timedelta(minutes=minute))
    assert "zigbee2mqtt/hvac/set" not in dict(venue.wire)


def test_a_white_spectrum_bulb_in_a_colour_zone_gets_a_white_it_has() -> None:
    venue = RecordingVenue()
    learn(venue, bar_strip="LED1545G12")
    venue.feed(msg.CheckIn("ana", "spicy-tech-gossip"))
    venue.feed(msg.CheckIn("bo", "spicy-tech-gossip"))
    venue.feed(msg.Tick())
    strip = dict(venue.wire)["zigbee2mqtt/bar_strip/set"]
    assert "color" not in strip and 250 <= strip["color_temp"] <= 454
    pendant = dict(venue.wire)["zigbee2mqtt/bar_pendant/set"]
    assert "color" in pendant  # no definition known: today's defaults, colour included


def test_a_hue_light_is_asked_nothing_before_the_bridge_said_what_it_is() -> None:
    hue_venue = VENUE.model_copy(
        update={
            "devices": [
                *VENUE.devices,
                VENUE.devices[0].model_copy(
                    update={"id": "hue-1", "driver": "hue", "topic": None, "bridge": "main", "light": 1}
                ),
            ]
        }
    )
    state = VenueState.initial(hue_venue, profiles=PROFILES)
    assert "hue-1" in state.site.learned
    result = step(state, msg.Tick(plan_all=True), T0)
    planned = [c.device_id for o in result.commands if isinstance(o, Drive) for c in o.commands]
    assert "bar-pendant" in planned and "hue-1" not in planned


def test_a_hue_bulb_asked_for_a_warmth_beyond_its_range_is_asked_once_for_its_warmest() -> None:
    """Before: a 153-454 mired bulb asked for 2000 K got `{"ct": 454}` again after every poll (30 a minute)."""
    hue = VENUE.devices[0].model_copy(
        update={"id": "hue-1", "driver": "hue", "topic": None, "bridge": "main", "light": 1, "zone": "lounge"}
    )
    venue = VENUE.model_copy(update={"devices": [hue]})
    candle = PROFILES["house"].model_copy(update={"lighting": Lighting(on=True, brightness=50, color_temp_k=2000)})
    state = VenueState.initial(venue, profiles={**PROFILES, "house": candle})
    caps = DeviceCapabilities("hue", frozenset({"on", "brightness", "color_temp_k"}), (153, 454))
    state = step(state, msg.Observed((Capabilities("hue-1", caps),), 0.0), T0).state
    first = step(state, msg.Tick(plan_all=True), T0)
    (drive,) = [c for c in first.commands if isinstance(c, Drive)]
    change = drive.commands[0].change
    assert isinstance(change, LightState) and change.color_temp_k == mired_to_kelvin(454)
    sent = tuple(Sent(c.device_id, c.change, {"ct": 454}, bridge="main", light="1") for c in drive.commands)
    state = step(first.state, msg.CommandsSent(sent), T0).state
    polled = LightState(on=True, brightness=50.0, color_temp_k=mired_to_kelvin(454))
    for second in range(2, 62, 2):  # a poll every 2 s for a minute, the bulb where it can be
        now = T0 + timedelta(seconds=second)
        state = step(state, msg.Observed((Report("hue-1", polled, True),), float(second)), now).state
        assert not [c for c in step(state, msg.Tick(plan_all=True), now).commands if isinstance(c, Drive)]
