"""Fixtures of the integration tests that need more than a broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.victoria import VictoriaMetrics, vm_fixture


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A victoria-metrics of the test's own; a failure in CI when it is not installed."""
    yield from vm_fixture(tmp_path)
