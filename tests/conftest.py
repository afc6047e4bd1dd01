"""Fixtures shared by every test: a real Mosquitto per test session on a free loopback port.

In CI (`CI` set) a missing mosquitto binary is a failure, never a skip: the integration tests are the point.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.cli.broker import MosquittoBroker, find_mosquitto


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One broker for the session; tests separate themselves by venue id / base topic."""
    if find_mosquitto() is None:
        if os.environ.get("CI"):
            pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")
        pytest.skip("mosquitto is not installed (scripts/bootstrap.sh --test installs it)")
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def private_mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of the test's own, for tests that stop or restart it."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")
    broker = MosquittoBroker(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()
