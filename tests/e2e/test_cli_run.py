"""`ambience run`, `ambience events` and `ambience sim` as processes against the session's real Mosquitto.

The service and the simulated devices run as the two programs a venue runs; the test is a kiosk and an
observer on the broker, and asserts only on what those see and on what the CLI prints.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.cli.broker import MosquittoBroker, free_port
from profiles.loader import load_document
from testkit.mqtt_clients import Kiosk, Observer
from testkit.waiting import wait_until_sync
from tests.e2e.cli import EXAMPLES, Proc, ambience, lines, started

DEVICE_TOPICS = ("bar_pendant", "bar_strip", "lounge_lamp_1", "lounge_lamp_2", "hvac", "lounge_speaker", "diffuser")


@dataclass(frozen=True)
class VenueFile:
    path: Path
    venue_id: str
    base_topic: str

    @property
    def status_topic(self) -> str:
        return f"ambience/{self.venue_id}/status"

    def device_topic(self, topic: str) -> str:
        return f"{self.base_topic}/{topic}"


def write_venue(folder: Path, broker_url: str, name: str = "venue.yaml", **changes: Any) -> VenueFile:
    """examples/venue.yaml with its own venue id, base topic and record, seeded from examples/profiles."""
    data = load_document(EXAMPLES / "venue.yaml")
    tag = uuid.uuid4().hex[:8]
    data["venue"]["id"] = f"e2e-{tag}"
    data["mqtt"]["url"] = broker_url
    data["mqtt"]["base_topic"] = f"z2m-e2e-{tag}"
    data["store"]["path"] = str(folder / "data" / "ambience.db")
    data["profiles_dir"] = str(EXAMPLES / "profiles")
    data["api"]["port"] = free_port()  # every `ambience run` serves the API: not all on the example's 8000
    data.update(changes)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return VenueFile(path, data["venue"]["id"], data["mqtt"]["base_topic"])


def retained(url: str, topic: str, timeout: float = 5.0) -> bytes:
    """What a newcomer subscribing to `topic` gets: its retained message."""
    listener = Observer(url, [topic])
    try:
        payload: bytes = wait_until_sync(lambda: listener.last.get(topic), timeout, f"a retained message on {topic}")
        return payload
    finally:
        listener.close()


def assert_no_traceback(*procs: Proc) -> None:
    for proc in procs:
        assert "Traceback" not in proc.stderr, proc.describe()


# -- run + sim + events ---------------------------------------------------------------------------------------


@pytest.mark.integration
def test_run_turns_the_room_to_book_club_then_stops_cleanly_and_events_prints_the_record(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    venue = write_venue(tmp_path, mosquitto.url)
    speaker = venue.device_topic("lounge_speaker")
    listener = Observer(mosquitto.url, [f"ambience/{venue.venue_id}/#", f"{venue.base_topic}/#"])
    kiosk = Kiosk(mosquitto.url, venue.venue_id)

    def speaker_state() -> dict[str, Any]:
        return listener.json(speaker) or {}

    try:
        with (
            started("controller", ["run", "--config", str(venue.path)], tmp_path, "run") as run,
            started("firmware_sim", ["--config", str(venue.path), "--log-level", "warning"], tmp_path, "sim") as sim,
        ):
            wait_until_sync(lambda: listener.last.get(venue.status_topic) == b"online", 10, "status online", run)
            # The house profile (policy.default_profile) is applied first: the service is up and reconciling.
            wait_until_sync(lambda: speaker_state().get("playlist") == "house-jazz", 10, "the house playlist", run, sim)
            assert speaker_state()["volume"] == 20

            with started(
                "controller",
                ["events", "--config", str(venue.path), "--type", "checkin", "--follow", "--json"],
                tmp_path,
                "follow",
            ) as follow:
                kiosk.checkin("ana", "book-club")
                kiosk.checkin("ben", "book-club")

                wait_until_sync(lambda: speaker_state().get("volume") == 15, 10, "book-club volume 15", run, sim)
                assert speaker_state()["playlist"] == "quiet-piano"
                wait_until_sync(lambda: len(lines(follow.stdout)) >= 2, 10, "events --follow to print both", follow)
                followed = [json.loads(line) for line in lines(follow.stdout)]
                assert {e["member_id"] for e in followed} == {"ana", "ben"}
                assert follow.stop(signal.SIGINT) == 0

            assert retained(mosquitto.url, venue.status_topic) == b"online"
            assert run.running()

            started_at = time.monotonic()
            assert run.stop(signal.SIGTERM, timeout=5) == 0, run.describe()
            assert time.monotonic() - started_at < 5
            assert retained(mosquitto.url, venue.status_topic) == b"offline"
            assert sim.stop(signal.SIGTERM, timeout=5) == 0, sim.describe()
            assert_no_traceback(run, sim)
    finally:
        kiosk.close()
        listener.close()

    table = ambience("events", "--config", str(venue.path), "--type", "checkin", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = lines(table.stdout)
    assert len(rows) == 2, rows
    assert all(" checkin " in row for row in rows), rows
    for member in ("ana", "ben"):
        assert sum(f'"member_id":"{member}"' in row for row in rows) == 1, rows

    as_json = ambience("events", "--config", str(venue.path), "--type", "checkin", "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    events = [json.loads(line) for line in lines(as_json.stdout)]
    assert {e["member_id"] for e in events} == {"ana", "ben"}
    assert all(e["type"] == "checkin" and e["community_id"] == "book-club" for e in events)
    assert all(e["venue"] == venue.venue_id for e in events)
    ids = [e["id"] for e in events]
    assert all(isinstance(i, int) for i in ids) and ids == sorted(ids) and len(set(ids)) == 2

    since = ambience(
        "events", "--config", str(venue.path), "--type", "checkin", "--json", "--since", str(ids[0]), cwd=tmp_path
    )
    assert since.returncode == 0, since.stderr
    assert [json.loads(line)["id"] for line in lines(since.stdout)] == [ids[1]]
    after_all = ambience("events", "--config", str(venue.path), "--json", "--since", str(ids[1]), cwd=tmp_path)
    assert after_all.returncode == 0
    assert all(json.loads(line)["id"] > ids[1] for line in lines(after_all.stdout))
    limited = ambience("events", "--config", str(venue.path), "--json", "--limit", "3", cwd=tmp_path)
    assert [json.loads(line)["id"] for line in lines(limited.stdout)] == [1, 2, 3]


def test_events_without_a_record_is_one_line_and_exit_1(tmp_path: Path) -> None:
    venue = write_venue(tmp_path, "mqtt://127.0.0.1:1")

    result = ambience("events", "--config", str(venue.path), cwd=tmp_path)

    assert result.returncode == 1
    assert lines(result.stderr) == [f"error: no event record at {tmp_path / 'data' / 'ambience.db'}"]
    assert result.stdout == ""


# -- run: bad input, no broker ----------------------------------------------------------------------------------


def test_run_with_an_invalid_config_prints_each_error_with_its_path(tmp_path: Path) -> None:
    data = load_document(EXAMPLES / "venue.yaml")
    data["limits"]["max_volume"] = 140
    data["mqtt"]["url"] = "http://127.0.0.1:1883"
    data["colour"] = "blue"
    (tmp_path / "bad-venue.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    result = ambience("run", "--config", "bad-venue.yaml", cwd=tmp_path, timeout=15)

    assert result.returncode == 1
    assert result.stdout == ""
    errors = lines(result.stderr)
    assert "Traceback" not in result.stderr
    assert len(errors) == 3, errors
    assert all(line.startswith("error: bad-venue.yaml: ") for line in errors), errors
    reported = {line.removeprefix("error: bad-venue.yaml: ") for line in errors}
    assert {"limits.max_volume: must be <= 100", "colour: unknown field"} <= reported
    assert any(line.startswith("mqtt.url: must be a URL") for line in reported), reported


def test_run_with_a_missing_config_is_one_line(tmp_path: Path) -> None:
    result = ambience("run", "--config", "nowhere.yaml", cwd=tmp_path, timeout=15)

    assert result.returncode == 1
    assert lines(result.stderr) == ["error: nowhere.yaml: (file): cannot read: No such file or directory"]


def test_run_names_the_profile_file_that_is_invalid(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "loud.yaml").write_text("community_id: loud\nname: Loud\naudio: {volume: 300}\n")
    venue = write_venue(tmp_path, f"mqtt://127.0.0.1:{free_port()}", profiles_dir=str(profiles))

    result = ambience("run", "--config", str(venue.path), cwd=tmp_path, timeout=15)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert lines(result.stderr) == [f"error: {profiles / 'loud.yaml'}: audio.volume: must be <= 100"]


def test_run_names_the_missing_profiles_dir(tmp_path: Path) -> None:
    venue = write_venue(tmp_path, f"mqtt://127.0.0.1:{free_port()}", profiles_dir=str(tmp_path / "nope"))

    result = ambience("run", "--config", str(venue.path), cwd=tmp_path, timeout=15)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = lines(result.stderr)
    assert str(tmp_path / "nope") in line, line


def test_run_with_an_unusable_store_path_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder\n")
    venue = write_venue(tmp_path, f"mqtt://127.0.0.1:{free_port()}")
    data = load_document(venue.path)
    data["store"]["path"] = str(tmp_path / "blocker" / "ambience.db")
    venue.path.write_text(yaml.safe_dump(data, sort_keys=False))

    result = ambience("run", "--config", str(venue.path), cwd=tmp_path, timeout=15)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines(result.stderr)) == 1, result.stderr


@pytest.mark.integration
def test_run_keeps_retrying_an_unreachable_broker_and_connects_when_it_appears(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here (yet)
    venue = write_venue(tmp_path, f"mqtt://127.0.0.1:{port}")
    broker = MosquittoBroker(tmp_path / "late-broker", port=port)
    try:
        with started("controller", ["run", "--config", str(venue.path)], tmp_path, "run") as run:
            time.sleep(2.0)
            assert run.running(), run.describe()

            broker.start()
            assert broker.port == port, "the port was taken meanwhile; rerun"
            assert wait_until_sync(
                lambda: _retained_or_none(broker.url, venue.status_topic) == b"online",
                20,
                "the service to reconnect and say online",
                run,
                poll_s=0.5,
            )

            assert run.stop(signal.SIGTERM, timeout=5) == 0, run.describe()
            assert_no_traceback(run)
    finally:
        broker.stop()


@pytest.mark.integration
def test_run_against_a_closed_port_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    venue = write_venue(tmp_path, f"mqtt://127.0.0.1:{free_port()}")
    with started("controller", ["run", "--config", str(venue.path)], tmp_path, "run") as run:
        time.sleep(2.0)
        assert run.running(), run.describe()
        assert run.stop(signal.SIGTERM, timeout=5) == 0, run.describe()
        assert_no_traceback(run)


def _retained_or_none(url: str, topic: str) -> bytes | None:
    try:
        return retained(url, topic, timeout=1.0)
    except AssertionError:
        return None


# -- sim --------------------------------------------------------------------------------------------------------


def availability(listener: Observer, device_topic: str) -> str | None:
    """A device's retained availability: `{"state":"online"}` or plain `online` (docs/contract.md §4)."""
    raw = listener.last.get(f"{device_topic}/availability")
    if raw is None:
        return None
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw.decode()
    return payload.get("state") if isinstance(payload, dict) else str(payload)


def _sim_online(proc: Proc, listener: Observer, venue: VenueFile) -> None:
    def all_online() -> bool:
        return all(availability(listener, venue.device_topic(t)) == "online" for t in DEVICE_TOPICS)

    wait_until_sync(all_online, 10, "every simulated device online", proc)
    state = listener.json(venue.device_topic("lounge_speaker"))
    assert state is not None and "volume" in state, state
    # `ambience sim` becomes the simulator (exec): signals reach it directly and there is no child to orphan.
    assert proc.children() == [], "ambience sim replaces itself with the simulator"


def _all_offline(listener: Observer, venue: VenueFile) -> bool:
    return all(availability(listener, venue.device_topic(t)) == "offline" for t in DEVICE_TOPICS)


@pytest.mark.integration
def test_sim_runs_the_devices_and_stops_on_ctrl_c(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    venue = write_venue(tmp_path, mosquitto.url)
    listener = Observer(mosquitto.url, [f"{venue.base_topic}/#"])
    try:
        with started("controller", ["sim", "--config", str(venue.path)], tmp_path, "sim") as sim:
            _sim_online(sim, listener, venue)

            assert sim.stop(signal.SIGINT, timeout=10) == 0, sim.describe()
            assert sim.leftovers() == []
            wait_until_sync(lambda: _all_offline(listener, venue), 5, "every device offline")
            assert_no_traceback(sim)
    finally:
        listener.close()


@pytest.mark.integration
def test_sim_stops_cleanly_on_sigterm(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    venue = write_venue(tmp_path, mosquitto.url)
    listener = Observer(mosquitto.url, [f"{venue.base_topic}/#"])
    try:
        with started("controller", ["sim", "--config", str(venue.path)], tmp_path, "sim") as sim:
            _sim_online(sim, listener, venue)

            code = sim.stop(signal.SIGTERM, timeout=10)
            time.sleep(0.5)
            leftovers = [" ".join(p.cmdline()) for p in sim.leftovers()]
            assert (code, leftovers) == (0, [])
            wait_until_sync(lambda: _all_offline(listener, venue), 5, "every device offline")
    finally:
        listener.close()
