"""`ambience run` warns about a broker that keeps no persistence (controller/shell/broker_check.py): against a real
Mosquitto started without persistence, and against the trap itself, Mosquitto started as root with a 0700
persistence folder of root's that its `mosquitto` user cannot write. The broker restarts while the controller runs,
as it does on an upgrade or a power cut, and loses what it held: the controller says so in one warning line that
names the fix. A broker that does keep its messages gives no warning: tests/e2e/test_cli_init.py runs the starter
against deploy/mosquitto/ambience.conf in Debian's layout."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from controller.cli.broker import MosquittoBroker, find_mosquitto, free_port
from testkit.waiting import wait_until_sync
from tests.e2e.cli import Proc, lines, started
from tests.e2e.test_cli_run import write_venue
from tests.integration.debian_mosquitto import DebianMosquitto

pytestmark = pytest.mark.integration

CHECK = "controller.shell.broker_check"


class Broker(Protocol):
    @property
    def url(self) -> str: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


def log_entries(run: Proc) -> list[dict[str, Any]]:
    """`ambience run`'s JSON log lines (its stderr is no terminal here)."""
    return [json.loads(line) for line in lines(run.stderr) if line.startswith("{")]


def checks(run: Proc) -> list[dict[str, Any]]:
    return [e for e in log_entries(run) if e["logger"] == CHECK]


def run_across_a_broker_restart(broker: Broker, folder: Path) -> list[dict[str, Any]]:
    """`ambience run` against `broker`, which restarts once after the controller's first check; every log entry."""
    venue = write_venue(folder, broker.url)
    with started("controller", ["run", "--config", str(venue.path)], folder, "run") as run:
        wait_until_sync(lambda: len(checks(run)) == 1, 20, "the first broker check", run)
        broker.stop()
        broker.start()
        wait_until_sync(lambda: len(checks(run)) == 2, 20, "the check after the broker's restart", run)
        assert run.stop() == 0, run.describe()
    return log_entries(run)


def assert_one_warning_naming_the_fix(entries: list[dict[str, Any]]) -> None:
    first, second = [e for e in entries if e["logger"] == CHECK]
    assert first["level"] == "INFO", first  # nothing left there before: nothing to say yet
    assert second["level"] == "WARNING", second
    for words in ("keeps no persistence", "persistence true", "persistence_location", "/var/lib/mosquitto/"):
        assert words in second["msg"], (words, second["msg"])
    assert not [e for e in entries if e["level"] == "ERROR"], entries


@pytest.fixture
def in_ci_mosquitto_is_required() -> None:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")


def test_a_broker_without_persistence_gets_one_warning_after_its_restart(
    tmp_path: Path, in_ci_mosquitto_is_required: None
) -> None:
    broker = MosquittoBroker(tmp_path / "mosquitto", extra_config=["persistence false"])
    broker.start()
    try:
        entries = run_across_a_broker_restart(broker, tmp_path)
    finally:
        broker.stop()
    assert_one_warning_naming_the_fix(entries)


@pytest.fixture
def trapped(tmp_path: Path, in_ci_mosquitto_is_required: None) -> Iterator[DebianMosquitto]:
    if os.geteuid() != 0:
        pytest.skip("the trap needs root: only a broker started as root drops to the mosquitto user")
    broker = DebianMosquitto(tmp_path / "mosquitto", free_port(), data="private")
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


def test_the_root_started_broker_that_cannot_write_its_0700_folder_gets_the_warning(
    tmp_path: Path, trapped: DebianMosquitto
) -> None:
    entries = run_across_a_broker_restart(trapped, tmp_path)
    assert "Permission denied" in trapped.log_text()  # the broker's only word about it
    assert_one_warning_naming_the_fix(entries)
