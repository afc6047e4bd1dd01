"""plan: the commands each device gets, given the desired ambience per zone and what the device last reported."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from controller.core.plan import Command, plan
from controller.core.presence import Presence, check_in
from controller.core.resolve import ZoneAmbience, resolve
from controller.core.shadow import FIRST_RETRY, Shadow, on_availability, on_command, on_report
from devices.states import AudioState, ClimateState, DeviceState, LightState, ScentState
from devices.units import hex_to_xy, mired_to_kelvin, z2m_to_percent
from profiles.loader import parse_profile, parse_venue
from profiles.venue import DeviceConfig, VenueConfig

T0 = datetime(2024, 5, 1, 18, 0, tzinfo=UTC)

VENUE: VenueConfig = parse_venue(
    {
        "venue": {"id": "teahouse", "name": "Teahouse"},
        "zones": ["bar", "lounge"],
        "devices": [
            {"id": "bar-pendant", "kind": "light", "zone": "bar", "driver": "mqtt", "topic": "bar_pendant"},
            {
                "id": "lounge-lamp",
                "kind": "light",
                "zone": "lounge",
                "driver": "mqtt",
                "topic": "lounge_lamp",
                "color_temp_range": [250, 454],
            },
            {"id": "hvac", "kind": "thermostat", "zone": "*", "driver": "mqtt", "topic": "hvac"},
            {"id": "speaker", "kind": "speaker", "zone": "lounge", "driver": "mqtt", "topic": "speaker"},
            {"id": "diffuser", "kind": "scent", "zone": "lounge", "driver": "mqtt", "topic": "diffuser"},
        ],
    }
)
DEVICES: dict[str, DeviceConfig] = {d.id: d for d in VENUE.devices}

WARM = LightState(on=True, brightness=80, color_temp_k=2700)
CLIMATE = ClimateState(target_c=21.5, mode="auto")
AUDIO = AudioState(state="play", volume=35, playlist="lofi")
SCENT = ScentState(on=True, intensity=30, name="cedar")


def zones(bar: LightState | None = WARM, lounge: LightState | None = WARM, transition_s: float | None = 3) -> dict:
    """Desired ambience: the same venue-wide sections everywhere, lights per zone."""
    shared = {"climate": CLIMATE, "audio": AUDIO, "scent": SCENT}
    return {
        "bar": ZoneAmbience(light=bar, transition_s=transition_s, **shared),
        "lounge": ZoneAmbience(light=lounge, transition_s=transition_s, **shared),
        "*": ZoneAmbience(light=WARM, transition_s=transition_s, **shared),
    }


def online(reported: DeviceState | None = None) -> Shadow:
    shadow = on_availability(Shadow(), True, T0)
    return shadow if reported is None else on_report(shadow, reported, T0)


def satisfied() -> dict[str, Shadow]:
    """Every device online and reporting exactly the desired state of `zones()`."""
    return {
        "bar-pendant": online(WARM),
        "lounge-lamp": online(WARM),
        "hvac": online(ClimateState(target_c=21.5, mode="auto", local_temp_c=19.0)),
        "speaker": online(AUDIO),
        "diffuser": online(SCENT),
    }


def commands_for(
    device_ids: list[str], desired: Mapping[str, ZoneAmbience], shadows: Mapping[str, Shadow], now: datetime = T0
) -> list[Command]:
    return plan([DEVICES[i] for i in device_ids], desired, shadows, now)


# ---- nothing to do ----------------------------------------------------------------------------------------


def test_devices_that_report_the_desired_state_get_nothing() -> None:
    assert plan(VENUE.devices, zones(), satisfied(), T0) == []


def test_a_report_within_tolerance_is_the_desired_state() -> None:
    # Zigbee2MQTT reports 203/254 for 80 % and 370 mired (2703 K) for 2700 K; a TRV rounds 21.5 to 21.4
    shadows = {
        "bar-pendant": online(LightState(on=True, brightness=z2m_to_percent(203), color_temp_k=mired_to_kelvin(370))),
        "hvac": online(ClimateState(target_c=21.4, mode="auto")),
    }
    assert commands_for(["bar-pendant", "hvac"], zones(), shadows) == []


def test_nothing_desired_means_no_commands() -> None:
    assert plan(VENUE.devices, {}, {}, T0) == []
    nothing = {"bar": ZoneAmbience(), "lounge": ZoneAmbience(), "*": ZoneAmbience()}
    assert plan(VENUE.devices, nothing, {}, T0) == []


# ---- only what differs ------------------------------------------------------------------------------------


def test_only_the_differing_attributes_are_sent() -> None:
    shadows = satisfied()
    shadows["bar-pendant"] = online(LightState(on=True, brightness=40, color_temp_k=2700))
    shadows["speaker"] = online(AudioState(state="play", volume=35, playlist="jazz"))
    shadows["hvac"] = online(ClimateState(target_c=19.0, mode="auto", local_temp_c=18.0))
    assert plan(VENUE.devices, zones(), shadows, T0) == [
        Command("bar-pendant", LightState(brightness=80), 3),
        Command("hvac", ClimateState(target_c=21.5)),
        Command("speaker", AudioState(playlist="lofi")),
    ]


def test_a_device_that_did_not_report_an_attribute_gets_it() -> None:
    shadows = {"bar-pendant": online(LightState(on=True, brightness=80))}
    assert commands_for(["bar-pendant"], zones(), shadows) == [Command("bar-pendant", LightState(color_temp_k=2700), 3)]


def test_a_colour_change_sends_the_colour() -> None:
    red = LightState(on=True, brightness=80, color_xy=hex_to_xy("#ff0000"))
    shadows = {"bar-pendant": online(WARM)}
    assert commands_for(["bar-pendant"], zones(bar=red), shadows) == [
        Command("bar-pendant", LightState(color_xy=hex_to_xy("#ff0000")), 3)
    ]


def test_a_light_desired_off_gets_only_off() -> None:
    off = LightState(on=False, brightness=40, color_temp_k=2000)
    shadows = {"bar-pendant": online(WARM)}
    assert commands_for(["bar-pendant"], zones(bar=off), shadows) == [Command("bar-pendant", LightState(on=False), 3)]


def test_a_light_that_is_off_as_desired_gets_nothing() -> None:
    off = LightState(on=False, brightness=40)
    shadows = {"bar-pendant": online(LightState(on=False, brightness=100, color_temp_k=6500))}
    assert commands_for(["bar-pendant"], zones(bar=off), shadows) == []


def test_each_light_gets_its_own_zone() -> None:
    dim = LightState(on=True, brightness=20, color_temp_k=2700)
    shadows = {"bar-pendant": online(WARM), "lounge-lamp": online(WARM)}
    assert commands_for(["bar-pendant", "lounge-lamp"], zones(lounge=dim), shadows) == [
        Command("lounge-lamp", LightState(brightness=20), 3)
    ]


def test_the_light_transition_goes_with_the_command() -> None:
    shadows = {"bar-pendant": online(LightState(on=False, brightness=80, color_temp_k=2700))}
    assert commands_for(["bar-pendant"], zones(transition_s=10), shadows) == [
        Command("bar-pendant", LightState(on=True), 10)
    ]


# ---- availability -----------------------------------------------------------------------------------------


def test_an_offline_device_gets_nothing() -> None:
    shadows = {
        "bar-pendant": on_availability(online(LightState(on=False)), False, T0),
        "hvac": on_availability(Shadow(), False, T0),
    }
    assert commands_for(["bar-pendant", "hvac"], zones(), shadows) == []


def test_a_device_never_heard_from_gets_the_whole_desired_state() -> None:
    assert plan(VENUE.devices, zones(), {}, T0) == [
        Command("bar-pendant", WARM, 3),
        Command("lounge-lamp", WARM, 3),
        Command("hvac", CLIMATE),
        Command("speaker", AUDIO),
        Command("diffuser", SCENT),
    ]


def test_an_online_device_that_has_not_reported_gets_the_whole_desired_state() -> None:
    assert commands_for(["speaker"], zones(), {"speaker": online()}) == [Command("speaker", AUDIO)]


def test_a_device_back_online_gets_the_whole_desired_state_even_if_its_report_matches() -> None:
    shadow = on_availability(online(WARM), False, T0)
    later = T0 + timedelta(minutes=5)
    shadow = on_availability(shadow, True, later)
    assert commands_for(["bar-pendant"], zones(), {"bar-pendant": shadow}, later) == [Command("bar-pendant", WARM, 3)]


def test_a_device_that_reports_after_being_offline_is_resynced() -> None:
    shadow = on_availability(online(WARM), False, T0)
    later = T0 + timedelta(minutes=5)
    shadow = on_report(shadow, WARM, later)
    assert commands_for(["bar-pendant"], zones(), {"bar-pendant": shadow}, later) == [Command("bar-pendant", WARM, 3)]


def test_after_the_resync_command_only_differences_are_sent_again() -> None:
    shadow = on_availability(on_availability(online(WARM), False, T0), True, T0)
    shadow = on_command(shadow, WARM, T0)
    shadow = on_report(shadow, WARM, T0 + timedelta(seconds=1))
    assert commands_for(["bar-pendant"], zones(), {"bar-pendant": shadow}, T0 + timedelta(seconds=2)) == []


# ---- pending commands -------------------------------------------------------------------------------------


def test_a_sent_command_is_not_sent_again_while_its_echo_is_awaited() -> None:
    shadow = online(LightState(on=True, brightness=40, color_temp_k=2700))
    [command] = commands_for(["bar-pendant"], zones(), {"bar-pendant": shadow})
    shadow = on_command(shadow, command.change, T0)
    assert commands_for(["bar-pendant"], zones(), {"bar-pendant": shadow}, T0) == []
    assert shadow.retry_at is not None
    just_before = shadow.retry_at - timedelta(microseconds=1)
    assert commands_for(["bar-pendant"], zones(), {"bar-pendant": shadow}, just_before) == []


def test_an_unconfirmed_command_is_sent_again_at_retry_time() -> None:
    shadow = online(LightState(on=True, brightness=40, color_temp_k=2700))
    shadow = on_command(shadow, LightState(brightness=80), T0)
    assert shadow.retry_at is not None
    assert commands_for(["bar-pendant"], zones(), {"bar-pendant": shadow}, shadow.retry_at) == [
        Command("bar-pendant", LightState(brightness=80), 3)
    ]


def test_a_confirmed_command_is_not_sent_again_after_retry_time() -> None:
    shadow = online(LightState(on=True, brightness=40, color_temp_k=2700))
    shadow = on_command(shadow, LightState(brightness=80), T0)
    shadow = on_report(shadow, LightState(on=True, brightness=z2m_to_percent(203), color_temp_k=2703), T0)
    assert commands_for(["bar-pendant"], zones(), {"bar-pendant": shadow}, T0 + timedelta(hours=1)) == []


def test_a_new_wish_while_a_command_is_pending_sends_only_the_new_part() -> None:
    shadow = online(LightState(on=True, brightness=40, color_temp_k=2700))
    shadow = on_command(shadow, LightState(brightness=80), T0)
    brighter_and_cooler = LightState(on=True, brightness=80, color_temp_k=4000)
    assert commands_for(["bar-pendant"], zones(bar=brighter_and_cooler), {"bar-pendant": shadow}, T0) == [
        Command("bar-pendant", LightState(color_temp_k=4000), 3)
    ]


def test_a_device_that_went_offline_with_a_pending_command_gets_everything_when_back() -> None:
    shadow = on_command(online(LightState(on=False)), LightState(on=True, brightness=80, color_temp_k=2700), T0)
    shadow = on_availability(shadow, False, T0 + timedelta(seconds=1))
    shadow = on_availability(shadow, True, T0 + timedelta(seconds=2))
    assert commands_for(["bar-pendant"], zones(), {"bar-pendant": shadow}, T0 + timedelta(seconds=2)) == [
        Command("bar-pendant", WARM, 3)
    ]


# ---- device specifics -------------------------------------------------------------------------------------


def test_a_thermostat_in_every_zone_gets_the_venue_wide_climate() -> None:
    presence, _, _ = check_in(Presence(), "ann", "a", T0)
    profile = parse_profile({"community_id": "a", "name": "A", "climate": {"target_c": 22.5, "mode": "heat"}})
    res = resolve(presence, {"a": profile}, VENUE, {}, T0)
    shadows = {"hvac": online(ClimateState(target_c=20.0, mode="heat", local_temp_c=19.5))}
    assert commands_for(["hvac"], res.zones, shadows) == [Command("hvac", ClimateState(target_c=22.5))]


def test_a_light_in_every_zone_gets_the_top_level_lighting() -> None:
    ven = parse_venue(
        {
            "venue": {"id": "v", "name": "V"},
            "zones": ["bar"],
            "devices": [{"id": "strip", "kind": "light", "zone": "*", "driver": "mqtt", "topic": "strip"}],
        }
    )
    presence, _, _ = check_in(Presence(), "ann", "a", T0)
    profile = parse_profile(
        {"community_id": "a", "name": "A", "lighting": {"brightness": 55, "zones": {"bar": {"brightness": 10}}}}
    )
    res = resolve(presence, {"a": profile}, ven, {}, T0)
    assert plan(ven.devices, res.zones, {}, T0) == [Command("strip", LightState(on=True, brightness=55))]


def test_a_colour_temperature_beyond_the_lamp_range_is_satisfied_at_the_range_end() -> None:
    # lounge-lamp goes down to 454 mired (~2203 K): asked for 2000 K, it reports 454 mired and that is all it can do
    candle = LightState(on=True, brightness=80, color_temp_k=2000)
    reported = LightState(on=True, brightness=80, color_temp_k=mired_to_kelvin(454))
    shadows = {"lounge-lamp": online(reported), "bar-pendant": online(reported)}
    assert commands_for(["lounge-lamp", "bar-pendant"], zones(bar=candle, lounge=candle), shadows) == [
        # the bar pendant has the full 153-500 range: it can do 2000 K and is asked to
        Command("bar-pendant", LightState(color_temp_k=2000), 3)
    ]


def test_a_lamp_at_the_wrong_end_of_its_range_is_still_sent_the_colour_temperature() -> None:
    candle = LightState(on=True, brightness=80, color_temp_k=2000)
    shadows = {"lounge-lamp": online(LightState(on=True, brightness=80, color_temp_k=mired_to_kelvin(250)))}
    assert commands_for(["lounge-lamp"], zones(lounge=candle), shadows) == [
        # asked for the warmest it has (454 mireds), not for 2000 K it would clamp: what it asks it can confirm
        Command("lounge-lamp", LightState(color_temp_k=mired_to_kelvin(454)), 3)
    ]


def test_scent_and_speaker_get_only_what_differs() -> None:
    shadows = {
        "speaker": online(AudioState(state="pause", volume=35, playlist="lofi")),
        "diffuser": online(ScentState(on=True, intensity=60, name="cedar")),
    }
    assert commands_for(["speaker", "diffuser"], zones(), shadows) == [
        Command("speaker", AudioState(state="play")),
        Command("diffuser", ScentState(intensity=30)),
    ]


def test_new_commands_while_one_is_awaited_do_not_push_its_retry_away() -> None:
    """A lost colour-temperature command, then brightness changes the device obeys: the lost one is retried within
    the first interval, not after 10, 20, 40 ... seconds."""
    shadow = on_report(Shadow(), LightState(on=True, brightness=50, color_temp_k=4000), T0, live=True)
    shadow = on_command(shadow, LightState(brightness=80, color_temp_k=2700), T0)  # the colour part is lost
    first_retry = shadow.retry_at
    assert first_retry is not None
    for second in range(1, 5):
        now = T0 + timedelta(seconds=second)
        shadow = on_report(shadow, LightState(on=True, brightness=80 + second, color_temp_k=4000), now, live=True)
        shadow = on_command(shadow, LightState(brightness=80 + second), now)
    assert shadow.retry_at is not None and shadow.retry_at <= first_retry
    assert shadow.attempts == 1
    # When the wait is over it is a real retry, and only then does the interval grow.
    assert first_retry is not None
    retried = on_command(shadow, LightState(color_temp_k=2700), first_retry)
    assert retried.attempts == 2
    assert retried.retry_at is not None and retried.retry_at - first_retry == FIRST_RETRY * 2
