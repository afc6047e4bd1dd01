"""Schemathesis over the app's own OpenAPI document, against the real app on a real venue: no 5xx, and every
response (status code, content type, headers, body) is one the document declares.

Bounded and derandomized, so it runs in CI in seconds and fails the same way twice. The venue's loop serves the
app while schemathesis (blocking `requests`) runs in a worker thread. Three passes per operation:
- positive: valid inputs as the schema describes them (random community ids, so mostly 403/404/422 paths);
- aligned: the same, with every `community_id` set to a community that exists (`book-club`), so the success paths
  run too (a stored profile, 412 on a random `If-Match`, a check-in);
- negative: inputs that break the schema, which must be refused as declared, never with a 5xx.
The event stream is left out: it never ends, by design (tests/api/test_presence.py covers it).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from controller.cli.broker import MosquittoBroker
from tests.api.harness import ADMIN, running_api
from tests.integration.harness import example_venue, run

pytestmark = pytest.mark.integration  # on a broker of its own: see test_auth.py

EXAMPLES = {"positive": 25, "aligned": 25, "negative": 15}
EXISTING = "book-club"
STREAM = "/api/v1/events/stream"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _aligned(case: Any) -> Any:
    """Point the case at a community that exists, so valid input can succeed."""
    if case.path_parameters and "community_id" in case.path_parameters:
        case.path_parameters["community_id"] = EXISTING
    if isinstance(case.body, dict) and "community_id" in case.body:
        case.body["community_id"] = EXISTING
    return case


def _run_pass(
    operation: Any,
    name: str,
    mode: GenerationMode,
    adjust: Callable[[Any], Any],
    base_url: str,
    examples: Counter[str],
    statuses: Counter[tuple[str, int]],
) -> None:
    @settings(
        max_examples=EXAMPLES[name],
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode).map(adjust))
    def check(case: Any) -> None:
        examples[name] += 1
        response = case.call_and_validate(base_url=base_url, headers=ADMIN, checks=CHECKS, timeout=10)
        statuses[(operation.label, response.status_code)] += 1

    try:
        check()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to break in an operation without inputs


def fuzz(base_url: str) -> tuple[Counter[str], Counter[tuple[str, int]]]:
    """Run every pass over every operation; returns examples per pass and responses per (operation, status)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json").exclude(path=STREAM)
    examples: Counter[str] = Counter()
    statuses: Counter[tuple[str, int]] = Counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the app's own OpenAPI document has an unusable operation: {result.err()}"
        operation = result.ok()
        _run_pass(operation, "positive", GenerationMode.POSITIVE, lambda case: case, base_url, examples, statuses)
        _run_pass(operation, "negative", GenerationMode.NEGATIVE, lambda case: case, base_url, examples, statuses)
        if "community_id" in operation.path or operation.label == "POST /api/v1/checkins":
            _run_pass(operation, "aligned", GenerationMode.POSITIVE, _aligned, base_url, examples, statuses)
    return examples, statuses


def test_schemathesis_finds_no_server_error_and_no_undeclared_response(
    private_mosquitto: MosquittoBroker, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            examples, statuses = await asyncio.to_thread(fuzz, api.url)

            operations = sorted({label for label, _ in statuses})
            total = sum(examples.values())
            print(f"\nschemathesis: {len(operations)} operations, {total} examples {dict(examples)}")
            for (label, status), count in sorted(statuses.items()):
                print(f"  {label}: {status} x{count}")
            record_property("schemathesis_operations", len(operations))
            record_property("schemathesis_examples", total)

            assert len(operations) == 14
            # Not vacuous: the success paths ran, not only the refusals.
            assert statuses[("PUT /api/v1/communities/{community_id}/profile", 200)] > 0
            assert statuses[("PUT /api/v1/communities/{community_id}/profile", 412)] > 0
            assert statuses[("PUT /api/v1/communities/{community_id}/profile", 422)] > 0
            assert statuses[("GET /api/v1/communities/{community_id}/profile", 200)] > 0
            assert statuses[("POST /api/v1/checkins", 201)] > 0
            assert statuses[("POST /api/v1/communities", 201)] > 0
            assert statuses[("PUT /api/v1/forced-profile", 200)] > 0
            assert statuses[("PUT /api/v1/forced-profile", 422)] > 0

    run(scenario)
