"""Prometheus metrics read from the running service at scrape time.

A custom collector reads the service's own counters (`service.stats`, the record, presence, device shadows)
when `/metrics` is scraped, so nothing in the controller has to know about Prometheus. Each app gets its own
`CollectorRegistry`: the global one would refuse the second app a test creates (duplicate metric names).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .port import VenuePort

__all__ = ["ServiceCollector", "registry_for"]


class ServiceCollector(Collector):
    """The venue's counters and gauges, named `ambience_*`."""

    def __init__(self, service: VenuePort) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        service = self._service
        stats = service.stats
        counters = (
            ("checkins", "Check-ins accepted (new or moved), over HTTP and from kiosks", stats.checkins),
            ("commands_sent", "Commands published to devices", stats.commands_sent),
            ("commands_deferred", "Commands held back by a device's coalescing window", stats.commands_deferred),
            ("flap_holds", "Times a device that keeps coming back was held before its next command", stats.flap_holds),
            ("inputs_rejected", "Kiosk or hub messages rejected as invalid", stats.rejected),
            ("mqtt_messages", "MQTT messages received", stats.messages),
        )
        for name, help_text, value in counters:
            yield CounterMetricFamily(f"ambience_{name}", help_text, value=value)

        record = service.record
        yield CounterMetricFamily(
            "ambience_events_written",
            "Events committed to the event record (the last committed id: ids only grow)",
            value=record.committed_id if record is not None else 0,
        )
        yield GaugeMetricFamily(
            "ambience_record_backlog",
            "Events emitted but not yet committed to the record",
            value=record.backlog if record is not None else 0,
        )

        forwarder = service.forwarder
        if forwarder is not None:
            yield GaugeMetricFamily(
                "ambience_forwarder_lag",
                "Events in the record not yet accepted by InfluxDB",
                value=service.forwarder_lag(),
            )

        present = GaugeMetricFamily(
            "ambience_members_present", "Members checked in, per community", labels=["community"]
        )
        for community, count in sorted(service.state.presence.headcount().items()):
            present.add_metric([community], count)
        yield present
        yield GaugeMetricFamily(
            "ambience_headcount", "Members checked in, all communities", value=service.state.presence.total
        )

        shadows = service.state.shadows.values()
        yield GaugeMetricFamily("ambience_devices", "Devices the controller drives", value=len(service.state.shadows))
        yield GaugeMetricFamily(
            "ambience_devices_online", "Devices known to be online", value=sum(s.online is True for s in shadows)
        )
        yield GaugeMetricFamily(
            "ambience_mqtt_connected", "1 while connected to the broker", value=int(service.mqtt_connected())
        )


def registry_for(service: VenuePort) -> CollectorRegistry:
    """A fresh registry with the service's metrics and the process's own (memory, CPU, open files)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ServiceCollector(service))
    ProcessCollector(registry=registry)
    return registry
