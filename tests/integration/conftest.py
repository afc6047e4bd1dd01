"""Fixtures of the integration tests that need more than a broker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.victoria import VictoriaMetrics, find_binary


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A started victoria-metrics of the test's own; in CI a missing binary is a failure, never a skip."""
    binary = find_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("victoria-metrics is not installed (apt-get install -y victoria-metrics)")
        pytest.skip("victoria-metrics is not installed (apt-get install -y victoria-metrics)")
    workdir = tmp_path / "vm"
    workdir.mkdir()
    server = VictoriaMetrics(binary, workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
