"""The Grafana files in deploy/grafana/ hold together, and the dashboard asks only for what the forwarder writes.

Pure: no Grafana and no InfluxDB here. The measurement, tag and field names each Flux query filters on are compared
with the points `controller.shell.forwarder` makes from events shaped like the service's (and its delivery point), and
with docs/telemetry.md; tests/integration/test_compose_files.py checks the same names against a real venue's
output stored by victoria-metrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from influxdb_client.client.write.point import Point

from controller.shell.forwarder import delivery_point, to_points
from controller.shell.record import Event

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "ambience.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "ambience.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "ambience.yaml"
TELEMETRY = ROOT / "docs" / "telemetry.md"
VENUE_FILTER = 'r.venue == "${venue}"'
FLUX_COLUMNS = {"_time", "_value", "_field", "_measurement", "_start", "_stop"}

T0 = datetime(2024, 5, 1, 18, 0, tzinfo=UTC)


def load_dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def datasource() -> dict[str, Any]:
    [source] = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    assert isinstance(source, dict)
    return source


def queries() -> Iterator[tuple[str, str]]:
    """(where, Flux) of every panel target and template variable."""
    dashboard = load_dashboard()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield f"panel {panel['title']!r} {target['refId']}", target["query"]
    for variable in dashboard["templating"]["list"]:
        yield f"variable {variable['name']!r}", variable["query"]


def panel_queries() -> list[tuple[str, str]]:
    return [(where, query) for where, query in queries() if where.startswith("panel ")]


# -- what the forwarder writes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One written point's shape: measurement, its `type` and `kind` tags (None when absent), tags and fields."""

    measurement: str
    type: str | None
    kind: str | None
    tags: frozenset[str]
    fields: frozenset[str]


def parse_line(point: Point) -> tuple[str, dict[str, str], set[str]]:
    text: str = point.to_line_protocol()  # type: ignore[no-untyped-call]
    head, fields_text, _time = text.split(" ")  # the sample values below have no spaces or commas
    measurement, *tag_parts = head.split(",")
    tags = dict(part.split("=", 1) for part in tag_parts)
    return measurement, tags, {part.split("=", 1)[0] for part in fields_text.split(",")}


def written() -> list[Series]:
    """The points of an evening's events, shaped as `controller.shell.service` emits them, plus a delivery point."""
    payloads: list[tuple[str, dict[str, Any]]] = [
        ("checkin", {"member_id": "ana", "community_id": "book-club", "source": "api", "present": 1}),
        ("checkout", {"member_id": "ana", "community_id": "book-club", "source": "mqtt", "present": 0}),
        ("checkin_expired", {"member_id": "ben", "community_id": "book-club", "present": 0}),
        (
            "profile_activated",
            {
                "community_id": "book-club",
                "active": ["book-club"],
                "source": "community",
                "previous": "house",
                "headcount": {"book-club": 2, "yoga": 1},
            },
        ),
        ("profile_activated", {"community_id": "house", "active": ["house"], "source": "default", "headcount": {}}),
        ("profile_activated", {"community_id": "yoga", "active": ["yoga"], "source": "forced", "headcount": {}}),
        (
            "device_state",
            {
                "device_id": "bar-pendant",
                "kind": "light",
                "state": {"on": True, "brightness": 70, "color_temp_k": 2700, "transition_s": 3},
            },
        ),
        (
            "device_state",
            {
                "device_id": "bar-strip",
                "kind": "light",
                "state": {"on": True, "brightness": 40, "color_xy": [0.6, 0.3]},
            },
        ),
        (
            "device_state",
            {
                "device_id": "hvac",
                "kind": "thermostat",
                "state": {"target_c": 21.5, "local_temp_c": 20.4, "mode": "heat"},
            },
        ),
        ("command_sent", {"device_id": "bar-pendant", "topic": "zigbee2mqtt/bar_pendant/set", "payload": {}}),
    ]
    events = [Event(i, T0 + timedelta(seconds=i), "teahouse-1", t, p) for i, (t, p) in enumerate(payloads, 1)]
    points = [*to_points(events), delivery_point("teahouse-1", len(events), 3, T0, T0 + timedelta(seconds=30))]
    series = []
    for point in points:
        measurement, tags, fields = parse_line(point)
        series.append(
            Series(measurement, tags.get("type"), tags.get("kind"), frozenset(tags), frozenset(fields - {"event_id"}))
        )
    return series


# -- what a query asks for -----------------------------------------------------------------------------------------


def equals(query: str, column: str) -> set[str]:
    """Every value a query compares `r.<column>` with (`r._field == "x"`)."""
    return set(re.findall(rf'\br\.{re.escape(column)} == "([^"]*)"', query))


def referenced_tags(query: str) -> set[str]:
    """Columns read as `r.<name>` or named in group()/keep(), less Flux's own and those a map() makes."""
    names = set(re.findall(r"\br\.(\w+)", query))
    for listed in re.findall(r"(?:group|keep)\(columns: \[([^\]]*)\]", query):
        names |= set(re.findall(r'"(\w+)"', listed))
    made = set(re.findall(r"\bwith (\w+):", query)) | set(re.findall(r"\(\{(\w+):", query))
    made |= set(re.findall(r"^\s+(\w+): ", query, flags=re.MULTILINE))
    return names - FLUX_COLUMNS - made


def telemetry_names() -> set[str]:
    """Every `name` in backticks in docs/telemetry.md."""
    return set(re.findall(r"`([a-z_]+)`", TELEMETRY.read_text(encoding="utf-8")))


# -- the files -----------------------------------------------------------------------------------------------------


def test_the_dashboard_is_a_provisionable_grafana_dashboard() -> None:
    dashboard = load_dashboard()
    assert dashboard["title"] and dashboard["uid"] == "ambience-venue"
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert "id" not in dashboard or dashboard["id"] is None, "a provisioned dashboard must not carry a database id"
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
    for panel in panels:
        pos = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= pos.keys(), panel["title"]
        assert pos["x"] + pos["w"] <= 24, f"{panel['title']} is wider than the 24-column grid"
        assert panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
    cells = [(x, y) for p in panels for x in range(p["gridPos"]["x"], p["gridPos"]["x"] + p["gridPos"]["w"])
             for y in range(p["gridPos"]["y"], p["gridPos"]["y"] + p["gridPos"]["h"])]  # fmt: skip
    assert len(cells) == len(set(cells)), "panels overlap"


def test_the_dashboard_has_the_panels_of_issue_7() -> None:
    titles = {panel["title"]: panel["type"] for panel in load_dashboard()["panels"]}
    assert titles == {
        "Headcount per community": "timeseries",
        "Active profile": "state-timeline",
        "Light brightness": "timeseries",
        "Light colour temperature": "timeseries",
        "Room temperature vs setpoint": "timeseries",
        "Commands per second": "timeseries",
        "Forwarder delay": "timeseries",
        "Forwarder backlog": "timeseries",
    }


def test_every_panel_target_and_variable_uses_the_provisioned_flux_data_source() -> None:
    source = datasource()
    assert source["type"] == "influxdb" and source["jsonData"]["version"] == "Flux"
    assert source["secureJsonData"]["token"] == "$INFLUX_TOKEN", "the token comes from Grafana's environment"
    wanted = {"type": "influxdb", "uid": source["uid"]}
    dashboard = load_dashboard()
    for panel in dashboard["panels"]:
        assert panel["datasource"] == wanted, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == wanted, panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"] == wanted, variable["name"]


def test_the_venue_variable_comes_from_the_venue_tag_and_every_query_filters_on_it() -> None:
    [variable] = load_dashboard()["templating"]["list"]
    assert variable["name"] == "venue" and variable["type"] == "query"
    assert 'tag: "venue"' in variable["query"] and "schema.tagValues" in variable["query"]
    for where, query in panel_queries():
        assert VENUE_FILTER in query, f"{where} does not filter on the venue"
        assert query.count("from(bucket: v.defaultBucket)") == 1, f"{where}: one source, the data source's bucket"
        assert "v.timeRangeStart" in query and "v.timeRangeStop" in query, f"{where} ignores the time picker"


def test_the_provider_reads_the_folder_where_compose_mounts_the_dashboards() -> None:
    [provider] = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    mounts = dict((volume.split(":")[1], volume.split(":")[0]) for volume in compose["services"]["grafana"]["volumes"])
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning/dashboards"] == "./deploy/grafana/provisioning/dashboards"
    assert mounts["/etc/grafana/provisioning/datasources"] == "./deploy/grafana/provisioning/datasources"
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"


# -- the names -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("where", "query"), panel_queries(), ids=[where for where, _ in panel_queries()])
def test_each_query_asks_for_series_the_forwarder_writes(where: str, query: str) -> None:
    series = written()
    [measurement] = equals(query, "_measurement")
    types = equals(query, "type")  # empty: any type
    kinds = equals(query, "kind")
    fields = equals(query, "_field")
    assert fields, f"{where} names no field"
    matching = [
        s
        for s in series
        if s.measurement == measurement and (not types or s.type in types) and (not kinds or s.kind in kinds)
    ]
    assert matching, f"{where}: the forwarder writes no {measurement} point with type {types} and kind {kinds}"
    for field in fields - {"event_id"}:
        assert any(field in s.fields for s in matching), f"{where}: no {measurement} point has field {field}"
    tags = frozenset().union(*(s.tags for s in matching))
    missing = referenced_tags(query) - tags
    assert not missing, f"{where}: the forwarder writes no tag {sorted(missing)} on these points"


def test_every_name_the_dashboard_uses_is_documented_in_telemetry_md() -> None:
    documented = telemetry_names()
    for where, query in queries():
        names = set(re.findall(r'\br\.(?:_measurement|_field|type|kind) == "([^"]*)"', query))
        names |= referenced_tags(query)
        missing = names - documented
        assert not missing, f"{where} uses {sorted(missing)}, which docs/telemetry.md does not describe"


def test_the_active_profile_panel_shows_how_a_profile_was_chosen_including_forced() -> None:
    [query] = [q for where, q in panel_queries() if "Active profile" in where]
    assert "r.source" in query and 'r.source != "community"' in query
    assert equals(query, "type") == {"profile_activated"}
