"""`ambience init` (docs/contract.md §1), run as an operator runs it: its output passes `ambience check` as written."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from controller.cli.broker import MosquittoBroker, free_port
from profiles.loader import load_document
from testkit.mqtt_clients import Observer
from testkit.waiting import wait_until_sync
from tests.e2e.cli import EXAMPLES, ambience, cli_env, lines, started
from tests.integration.debian_mosquitto import DebianMosquitto

WRITTEN = ("venue.yaml", "profiles/house.yaml", ".env")


def env_values(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_init_writes_a_starter_that_passes_check(tmp_path: Path) -> None:
    folder = tmp_path / "Teahouse on 5th"

    result = ambience("init", str(folder), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert all((folder / name).is_file() for name in WRITTEN)
    assert "ambience check" in result.stdout and "ambience run --config" in result.stdout, result.stdout
    checked = ambience("check", "venue.yaml", "profiles/house.yaml", cwd=folder)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert lines(checked.stdout) == ["venue.yaml: ok", "profiles/house.yaml: ok"]
    venue = load_document(folder / "venue.yaml")
    assert venue["venue"]["id"] == "teahouse-on-5th"  # a slug of the folder's name
    assert venue["policy"]["default_profile"] == load_document(folder / "profiles" / "house.yaml")["community_id"]
    assert venue["store"]["path"] == "./data/ambience.db"
    assert venue["devices"] == []


def test_the_house_profile_is_the_example_one(tmp_path: Path) -> None:
    assert ambience("init", "--dir", str(tmp_path), cwd=tmp_path).returncode == 0

    assert load_document(tmp_path / "profiles" / "house.yaml") == load_document(EXAMPLES / "profiles" / "house.yaml")


def test_init_in_the_current_folder_with_an_id_and_a_name(tmp_path: Path) -> None:
    result = ambience("init", "--venue-id", "farm-7", "--name", "Farm #7: the barn", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert load_document(tmp_path / "venue.yaml")["venue"] == {"id": "farm-7", "name": "Farm #7: the barn"}
    assert ambience("check", "venue.yaml", "profiles/house.yaml", cwd=tmp_path).returncode == 0


def test_the_env_file_is_private_and_holds_a_long_token(tmp_path: Path) -> None:
    assert ambience("init", cwd=tmp_path).returncode == 0

    env = tmp_path / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    token = env_values(env)["AMBIENCE_ADMIN_TOKEN"]
    assert len(token) >= 43  # token_urlsafe(32): 32 random bytes
    assert token.replace("-", "").replace("_", "").isalnum()  # safe unquoted in systemd and sh


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    assert ambience("init", cwd=tmp_path).returncode == 0
    (tmp_path / "venue.yaml").write_text("# edited by the operator\n")
    before = {name: (tmp_path / name).read_text() for name in WRITTEN}

    refused = ambience("init", cwd=tmp_path)

    assert refused.returncode == 1
    [line] = lines(refused.stderr)
    assert line.startswith("error: ") and "venue.yaml" in line and "--force" in line, line
    assert refused.stdout == ""
    assert {name: (tmp_path / name).read_text() for name in WRITTEN} == before


def test_force_overwrites_with_a_new_token(tmp_path: Path) -> None:
    assert ambience("init", cwd=tmp_path).returncode == 0
    old_token = env_values(tmp_path / ".env")["AMBIENCE_ADMIN_TOKEN"]
    (tmp_path / "venue.yaml").write_text("# edited by the operator\n")
    (tmp_path / ".env").chmod(0o644)

    forced = ambience("init", "--force", cwd=tmp_path)

    assert forced.returncode == 0, forced.stderr
    assert env_values(tmp_path / ".env")["AMBIENCE_ADMIN_TOKEN"] != old_token
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert ambience("check", "venue.yaml", "profiles/house.yaml", cwd=tmp_path).returncode == 0


def test_a_bad_venue_id_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    result = ambience("init", "--venue-id", "Tea House", cwd=tmp_path)

    assert result.returncode == 1
    [line] = lines(result.stderr)
    assert line.startswith("error: --venue-id: "), line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.integration
def test_run_starts_on_the_starter_and_logs_json_lines_with_the_venue(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    assert ambience("init", "--venue-id", f"init-{uuid.uuid4().hex[:6]}", cwd=tmp_path).returncode == 0
    venue_text = (tmp_path / "venue.yaml").read_text()
    venue_text = venue_text.replace('"mqtt://127.0.0.1:1883"', f'"{mosquitto.url}"', 1)
    venue_text = venue_text.replace("port: 8000", f"port: {free_port()}", 1)
    (tmp_path / "venue.yaml").write_text(venue_text)
    venue_id = load_document(tmp_path / "venue.yaml")["venue"]["id"]
    env = {**cli_env(tmp_path), **env_values(tmp_path / ".env")}

    with started("controller", ["run", "--config", "venue.yaml"], tmp_path, "run", env=env) as run:

        def json_lines() -> list[dict[str, Any]]:
            return [json.loads(line) for line in lines(run.stderr)]

        wait_until_sync(lambda: any(e["venue"] == venue_id for e in json_lines()), 20, "a log line with the venue", run)
        assert run.stop() == 0, run.describe()
    entries = json_lines()
    assert all(set(e) >= {"ts", "level", "logger", "venue", "msg"} for e in entries), entries
    assert not [e for e in entries if e["level"] in ("WARNING", "ERROR")], entries  # the token came from .env


@pytest.mark.integration
def test_the_starter_against_the_deploy_broker_keeps_its_messages_across_the_brokers_restart(tmp_path: Path) -> None:
    """`ambience init`'s starter with deploy/mosquitto/ambience.conf in Debian's layout (run as root, the broker drops
    to its mosquitto user, which owns the data folder): the broker restarts under the running controller, and the
    controller's persistence check finds its marker kept, with no warning."""
    broker = DebianMosquitto(tmp_path / "mosquitto", free_port())
    try:
        # $SYS every second, not every 10 s: so the check can tell a restart 2 s later (conf.d, beside the shipped file)
        (broker.conf_d / "test-sys-interval.conf").write_text("sys_interval 1\n")
        broker.start()
        uptime = Observer(broker.url, ["$SYS/broker/uptime"])
        try:  # the marker remembers the uptime it saw: it must be above 0 for the restart to show
            wait_until_sync(lambda: uptime.last.get("$SYS/broker/uptime", b"0 seconds") != b"0 seconds", 10, "uptime")
        finally:
            uptime.close()
        assert ambience("init", "--venue-id", f"init-{uuid.uuid4().hex[:6]}", cwd=tmp_path).returncode == 0
        venue_file = tmp_path / "venue.yaml"
        venue_text = venue_file.read_text().replace('"mqtt://127.0.0.1:1883"', f'"{broker.url}"', 1)
        venue_file.write_text(venue_text.replace("port: 8000", f"port: {free_port()}", 1))
        env = {**cli_env(tmp_path), **env_values(tmp_path / ".env")}

        with started("controller", ["run", "--config", "venue.yaml"], tmp_path, "run", env=env) as run:

            def checks() -> list[dict[str, Any]]:
                entries = [json.loads(line) for line in lines(run.stderr)]
                return [e for e in entries if e["logger"] == "controller.shell.broker_check"]

            wait_until_sync(lambda: len(checks()) == 1, 20, "the first broker check", run)
            broker.stop()
            broker.start()
            wait_until_sync(lambda: len(checks()) == 2, 20, "the check after the broker's restart", run)
            assert run.stop() == 0, run.describe()
        first, second = checks()
        assert first["level"] == second["level"] == "INFO", (first, second)
        assert "persistence works" in second["msg"], second
        assert "Error" not in broker.log_text(), broker.log_text()
    finally:
        broker.close()
