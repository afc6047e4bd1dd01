"""Home Assistant sees the venue: discovery messages through a real Mosquitto, read the way Home Assistant reads them
(its templates rendered against the retained state, the select's command template against the chosen option), and
the select entity forcing a profile onto the real simulated devices, kept across a restart. Home Assistant itself is
played by plain MQTT clients."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from controller.cli.broker import MosquittoBroker
from controller.core.home_assistant import AUTO
from profiles.venue import VenueConfig
from testkit.mqtt_clients import Observer
from testkit.waiting import wait_until
from tests.integration.harness import Venue, example_venue, run, running_venue

pytestmark = pytest.mark.integration


def render(template: str, payload: bytes) -> str:
    """What Home Assistant shows: the template rendered with the message parsed as `value_json`."""
    return ImmutableSandboxedEnvironment().from_string(template).render(value_json=json.loads(payload)).strip()


# examples/profiles: the names the select shows.
READING_HOUR, SPICY, HOUSE_CALM = "Reading hour", "Spicy & gossip", "House calm"


class HomeAssistant:
    """What Home Assistant's MQTT integration does with discovery: read the retained configs, then follow each
    entity's state topic and publish the select's commands."""

    def __init__(self, url: str) -> None:
        self.listener = Observer(url, ["homeassistant/#", "ambience/#"])

    def configs(self, venue_id: str) -> dict[str, dict[str, Any]]:
        """unique_id -> config, for the venue's entities that are currently configured (an empty payload removes)."""
        out: dict[str, dict[str, Any]] = {}
        for topic, payload in self.listener.latest().items():
            if topic.startswith("homeassistant/") and f"/ambience_{venue_id}/" in topic and payload:
                config = json.loads(payload)
                out[config["unique_id"]] = config
        return out

    def entity(self, venue_id: str, name: str) -> str | None:
        """The entity's state as Home Assistant would display it, or None while unknown or unavailable."""
        config = self.configs(venue_id).get(f"ambience_{venue_id}_{name}")
        if config is None or self.listener.last.get(config["availability_topic"]) != b"online":
            return None
        state = self.listener.last.get(config["state_topic"])
        return None if state is None else render(config["value_template"], state)

    def attributes(self, venue_id: str, name: str) -> Any:
        """The entity's attributes: its json_attributes_template rendered against its attributes topic."""
        config = self.configs(venue_id)[f"ambience_{venue_id}_{name}"]
        payload = self.listener.last.get(config["json_attributes_topic"])
        return None if payload is None else json.loads(render(config["json_attributes_template"], payload))

    def select(self, venue_id: str, option: str) -> None:
        """Choose `option`: Home Assistant publishes the command template rendered with it (the option itself
        without a template) on the command topic."""
        config = self.configs(venue_id)[f"ambience_{venue_id}_profile"]
        assert option in config["options"]
        payload = option
        if "command_template" in config:
            payload = ImmutableSandboxedEnvironment().from_string(config["command_template"]).render(value=option)
        self.listener.client.publish(config["command_topic"], payload, qos=config["qos"]).wait_for_publish(5)

    def close(self) -> None:
        self.listener.close()


def spicy_room(v: Venue) -> bool:
    return v.device("lounge-speaker")["playlist"] == "lofi-gossip" and v.device("diffuser")["scent"] == "cedar"


def book_club_room(v: Venue) -> bool:
    return v.device("lounge-speaker")["playlist"] == "quiet-piano" and v.device("diffuser")["scent"] == "lavender"


def test_home_assistant_discovers_the_venue_and_forces_a_profile(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    config = example_venue(mosquitto.url, tmp_path)
    vid = config.venue.id
    # Profiles travel on venue-independent retained topics: another test's edit on this session's broker (the
    # dashboard test renames book-club's) would arrive here as the hub's newest version of it.
    for community in ("house", "book-club", "spicy-tech-gossip"):
        _clear_retained(mosquitto.url, f"ambience/profiles/{community}")

    async def evening() -> None:
        ha = await asyncio.to_thread(HomeAssistant, mosquitto.url)
        try:
            async with running_venue(config) as v:
                await wait_until(lambda: len(ha.configs(vid)) == 3, what="three discovered entities")
                options = ha.configs(vid)[f"ambience_{vid}_profile"]["options"]
                assert options == [AUTO, HOUSE_CALM, READING_HOUR, SPICY]

                v.kiosk.checkin("ana", "book-club")
                v.kiosk.checkin("ben", "book-club")
                await wait_until(lambda: book_club_room(v), what="book-club's room")
                await wait_until(lambda: ha.entity(vid, "active_community") == "book-club", what="active community")
                assert ha.entity(vid, "headcount") == "2"
                assert ha.attributes(vid, "headcount") == {"communities": {"book-club": 2}}
                assert ha.entity(vid, "profile") == AUTO

                # The organiser books the room for spicy-tech-gossip's party: chosen in Home Assistant's select.
                ha.select(vid, SPICY)
                await wait_until(lambda: spicy_room(v), what="the forced profile in the room")
                await wait_until(lambda: ha.entity(vid, "profile") == SPICY, what="select shows it")
                assert ha.entity(vid, "active_community") == "spicy-tech-gossip"
                assert ha.entity(vid, "headcount") == "2"  # book-club is still who is here
                [forced] = v.events("profile_forced")
                assert forced.payload == {"community_id": "spicy-tech-gossip", "previous": None, "source": "mqtt"}

                # A name that is no profile changes nothing and says why.
                v.kiosk.raw(f"ambience/{vid}/force", "karaoke")
                await wait_until(lambda: v.listener.messages(f"ambience/{vid}/rejected"), what="rejection")
                assert (
                    "karaoke" in json.loads(v.listener.messages(f"ambience/{vid}/rejected")[-1])["errors"][0]["message"]
                )
                assert len(v.events("profile_forced")) == 1

            # Stopped: every entity is unavailable (the status topic's offline), not stale.
            await wait_until(lambda: ha.entity(vid, "headcount") is None, what="entities unavailable")

            async with running_venue(config) as v:
                # Restarted: still forced (kept in the record), Home Assistant sees it without doing anything.
                await wait_until(lambda: spicy_room(v), what="the forced profile after a restart")
                await wait_until(lambda: ha.entity(vid, "profile") == SPICY, what="select after restart")

                ha.select(vid, AUTO)
                await wait_until(lambda: book_club_room(v), what="back to who is here")
                await wait_until(lambda: ha.entity(vid, "profile") == AUTO, what="select back to Automatic")
                assert [e.payload["community_id"] for e in v.events("profile_forced")] == ["spicy-tech-gossip", None]
        finally:
            ha.close()

    run(evening)


def test_a_new_community_becomes_an_option_and_home_assistants_restart_gets_the_configs_again(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = example_venue(mosquitto.url, tmp_path)
    vid = config.venue.id

    async def scenario() -> None:
        ha = await asyncio.to_thread(HomeAssistant, mosquitto.url)
        try:
            async with running_venue(config) as v:
                await wait_until(lambda: len(ha.configs(vid)) == 3, what="discovered entities")
                profile = {"community_id": "chess-club", "name": "Chess", "audio": {"volume": 5}}
                v.kiosk.raw("ambience/profiles/chess-club", json.dumps(profile))
                await wait_until(
                    lambda: "Chess" in ha.configs(vid)[f"ambience_{vid}_profile"]["options"], what="new option"
                )
                topic = f"homeassistant/select/ambience_{vid}/profile/config"
                before = len(ha.listener.messages(topic))
                v.kiosk.raw("homeassistant/status", "online")  # Home Assistant's birth message
                await wait_until(lambda: len(ha.listener.messages(topic)) > before, what="configs sent again")
        finally:
            ha.close()
            # The profile is retained on the shared test broker: clear it for the other tests.
            await asyncio.to_thread(_clear_retained, mosquitto.url, "ambience/profiles/chess-club")

    run(scenario)


def _clear_retained(url: str, topic: str) -> None:
    cleaner = Observer(url, [topic])
    cleaner.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    cleaner.close()


def test_switched_off_discovery_removes_the_entities_an_earlier_run_made(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = example_venue(mosquitto.url, tmp_path)
    vid = config.venue.id
    off: VenueConfig = config.model_copy(
        update={"home_assistant": config.home_assistant.model_copy(update={"discovery": False})}
    )

    async def scenario() -> None:
        async with running_venue(config):
            pass
        ha = await asyncio.to_thread(HomeAssistant, mosquitto.url)  # sees only what is retained
        try:
            await wait_until(lambda: len(ha.configs(vid)) == 3, what="retained configs of the first run")
            async with running_venue(off):
                await wait_until(lambda: not ha.configs(vid), what="entities removed")
        finally:
            ha.close()
        late = await asyncio.to_thread(HomeAssistant, mosquitto.url)  # a Home Assistant started afterwards
        try:
            await asyncio.sleep(0.5)  # retained messages arrive right after the subscribe; none should
            assert late.configs(vid) == {}
        finally:
            late.close()

    run(scenario)
