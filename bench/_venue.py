"""Shared set-up for the end-to-end benchmarks: a whole venue on loopback, started and always torn down.

`BenchVenue` writes a venue YAML into a temporary folder (a fresh venue id and base topic, the store in the same
folder, `profiles_dir` pointing at the example profiles), then starts, each as a real process:

- Mosquitto on a free loopback port (`controller.cli.broker.MosquittoBroker`),
- the simulated devices (`python -m firmware_sim --config F --url U`),
- the service (`python -m controller run --config F`),

plus two plain MQTT clients in this process: an `Observer` that timestamps every device state message, every
`/set` command and the service's status, and a `Kiosk` that publishes check-ins with QoS 1.

Leaving the `with` block (normally, on an error or on Ctrl-C/SIGTERM) stops them in order: the service with
SIGTERM (it publishes `offline` and exits 0), then the simulator, then the broker; anything that does not stop
within its grace period is killed. The children also get SIGTERM if this process dies without cleaning up.

The broker is `MosquittoBroker` as the demo and most tests run it (`--broker default`: persistence saved once a
second). `--broker save-every-change` adds `autosave_on_changes` (what tests that SIGKILL the broker use), which on a
busy venue means a full database write and fsync per retained state message: it shows what that costs.

Expected device states are computed from the profile files here, in wire units (brightness `pct*254/100`
rounded, mireds `1e6/K` rounded and clamped to the light's range, setpoints in the thermostat's 0.5 C steps,
venue limits applied), independently of the service's own conversion code. Occupancy rules and phases are not
modelled: the benchmarks use profiles and durations where neither applies.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # testkit, for `python bench/X.py` and its imports
from controller.cli.broker import MosquittoBroker
from firmware_sim.definitions import light_model, valve_model
from profiles.loader import load_document, load_profile
from profiles.profile import Profile
from testkit.processes import die_with_parent

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EXAMPLE_VENUE = EXAMPLES / "venue.yaml"
PROFILES_DIR = EXAMPLES / "profiles"
COMMUNITIES = ("book-club", "spicy-tech-gossip", "house")
ZONES = ("bar", "lounge")

BRIGHTNESS_MAX = 254
MIRED_RANGE = (153, 500)
SETPOINT_STEP_C = 0.5
STOP_GRACE_S = 10.0


class BenchError(RuntimeError):
    """The venue could not be brought up (or did not behave); the message says what was missing."""


# -- numbers -----------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 20 samples is the maximum); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p99/max/mean of samples in seconds, in milliseconds rounded to 0.01."""
    if not samples_s:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan, "mean": math.nan}
    ms = [s * 1000 for s in samples_s]
    return {
        "p50": round(percentile(ms, 50), 2),
        "p99": round(percentile(ms, 99), 2),
        "max": round(max(ms), 2),
        "mean": round(statistics.fmean(ms), 2),
    }


def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


# -- /proc -------------------------------------------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, in MB (MiB); NaN if it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return math.nan


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far, in seconds; NaN if it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


# -- the venue file ----------------------------------------------------------------------------------------------


def generate_devices(count: int) -> list[dict[str, Any]]:
    """`count` devices over bar/lounge: lights light-001.. plus one thermostat (zone *), speaker and scent."""
    if count < 4:
        raise ValueError("a generated venue needs at least 4 devices (lights, thermostat, speaker, scent)")
    lights = [
        {"id": f"light-{i:03d}", "kind": "light", "zone": ZONES[i % 2], "driver": "mqtt", "topic": f"light_{i:03d}"}
        for i in range(1, count - 2)
    ]
    return [
        *lights,
        {"id": "hvac", "kind": "thermostat", "zone": "*", "driver": "mqtt", "topic": "hvac"},
        {"id": "speaker", "kind": "speaker", "zone": "lounge", "driver": "mqtt", "topic": "speaker"},
        {"id": "diffuser", "kind": "scent", "zone": "lounge", "driver": "mqtt", "topic": "diffuser"},
    ]


def venue_document(url: str, store_path: Path, devices: int | None, tag: str) -> dict[str, Any]:
    """examples/venue.yaml with a unique venue id and base topic, the given broker and store, and either its
    own devices (`devices=None`) or `devices` generated ones."""
    doc = load_document(EXAMPLE_VENUE)
    doc["venue"] = {"id": f"bench-{tag}", "name": f"Bench venue {tag}"}
    doc["mqtt"] = {**doc.get("mqtt", {}), "url": url, "base_topic": f"bench-{tag}"}
    doc["store"] = {**doc.get("store", {}), "path": str(store_path)}
    doc["profiles_dir"] = str(PROFILES_DIR)
    doc["zones"] = list(ZONES) if devices is not None else doc["zones"]
    if devices is not None:
        doc["devices"] = generate_devices(devices)
    return doc


# -- expected device states --------------------------------------------------------------------------------------


def load_profiles(directory: Path = PROFILES_DIR) -> dict[str, Profile]:
    profiles = {}
    for path in sorted(directory.iterdir()):
        if path.suffix in (".yaml", ".yml", ".json"):
            profile = load_profile(path)
            profiles[profile.community_id] = profile
    return profiles


def _section(profile: Profile, default: Profile | None, name: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for source in (default, profile):
        model = getattr(source, name, None) if source is not None else None
        if model is not None:
            values.update(model.model_dump(exclude_none=True, exclude={"zones"}))
    return values


def _light_values(profile: Profile, default: Profile | None, zone: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for source in (default, profile):
        lighting = source.lighting if source is not None else None
        if lighting is None:
            continue
        for level in (lighting, lighting.zones.get(zone)):
            if level is None:
                continue
            over = level.model_dump(exclude_none=True, exclude={"zones"})
            if "color" in over and "color_temp_k" not in over:
                values.pop("color_temp_k", None)
            elif "color_temp_k" in over and "color" not in over:
                values.pop("color", None)
            values.update(over)
    return values


def expected_report(
    device: Mapping[str, Any], profile: Profile, default: Profile | None, limits: Mapping[str, Any]
) -> dict[str, Any]:
    """The fields (Zigbee2MQTT wire units) a device's state message must show once `profile` is applied."""
    kind = device["kind"]
    if kind == "light":
        light = _light_values(profile, default, device["zone"])
        if light.get("on", True) is False:
            return {"state": "OFF"}
        out: dict[str, Any] = {"state": "ON"}
        if "brightness" in light:
            pct = min(100.0, max(float(limits.get("min_brightness", 0)), float(light["brightness"])))
            out["brightness"] = round(pct * BRIGHTNESS_MAX / 100)
        # A real model (firmware_sim/definitions.json) may lack colour: then the room's colour shows as a white.
        bulb = light_model(device["model"]) if device.get("model") else None
        if "color_temp_k" in light:
            lo, hi = device.get("color_temp_range") or MIRED_RANGE
            if bulb is not None and bulb.mired_range is not None:
                lo, hi = max(lo, bulb.mired_range[0]), min(hi, bulb.mired_range[1])
            out["color_temp"] = int(min(hi, max(lo, round(1_000_000 / light["color_temp_k"]))))
        elif "color" in light:
            out["color_mode"] = "xy" if bulb is None or "color" in bulb.keys else "color_temp"
        return out
    if kind == "thermostat":
        climate = _section(profile, default, "climate")
        valve = valve_model(device["model"]) if device.get("model") else None
        key, step = (
            (valve.setpoint_key, valve.setpoint_step) if valve else ("occupied_heating_setpoint", SETPOINT_STEP_C)
        )
        out = {}
        if "target_c" in climate:
            lo, hi = float(limits.get("min_temp_c", 5)), float(limits.get("max_temp_c", 35))
            target = min(hi, max(lo, round(float(climate["target_c"]) * 10) / 10))
            out[key] = round(target / step) * step
        if "mode" in climate:
            mode = climate["mode"]
            if valve is not None and mode not in valve.modes:  # a heat-only valve heats when asked auto
                mode = next((m for m in ("heat", "cool") if m in valve.modes), None) if mode == "auto" else None
            if mode is not None:
                out["system_mode"] = mode
        return out
    if kind == "speaker":
        audio = _section(profile, default, "audio")
        out = {}
        if "volume" in audio:
            out["volume"] = min(int(limits.get("max_volume", 100)), round(audio["volume"]))
        if "playlist" in audio:
            out["playlist"] = audio["playlist"]
        if "state" in audio:
            out["state"] = str(audio["state"]).upper()
        return out
    if kind == "scent":
        scent = _section(profile, default, "scent")
        out = {}
        if "intensity" in scent:
            out["intensity"] = round(scent["intensity"])
            out["state"] = "ON" if scent["intensity"] > 0 else "OFF"
        if "name" in scent:
            out["scent"] = scent["name"]
        return out
    raise ValueError(f"unknown device kind {kind!r}")


def matches(report: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    for key, want in expected.items():
        got = report.get(key)
        if isinstance(want, float) or isinstance(got, float):
            if not isinstance(got, int | float) or abs(float(got) - float(want)) > 1e-6:
                return False
        elif got != want:
            return False
    return True


# -- MQTT clients ------------------------------------------------------------------------------------------------


def _client(prefix: str) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"{prefix}-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311
    )


def _connect(client: mqtt.Client, host: str, port: int, timeout_s: float = 10.0) -> None:
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.connect(host, port, keepalive=30)
    client.loop_start()
    if not connected.wait(timeout_s):
        client.loop_stop()
        raise BenchError(f"could not connect to mqtt://{host}:{port}")


@dataclass
class Watch:
    """What one measurement waits for: these state topics showing these values, after `started`."""

    expected: dict[str, dict[str, Any]]
    started: float
    reported_at: dict[str, float] = field(default_factory=dict)
    commanded_at: dict[str, float] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def remaining(self) -> list[str]:
        return [t for t in self.expected if t not in self.reported_at]


class Observer:
    """Subscribes to every device's state and `/set` topic and to the service's status; timestamps everything
    with `time.perf_counter()` in paho's network thread, as messages arrive."""

    def __init__(self, host: str, port: int, base_topic: str, venue_id: str, state_topics: Mapping[str, str]) -> None:
        self.base = base_topic
        self.status_topic = f"ambience/{venue_id}/status"
        self.state_topics = dict(state_topics)  # state topic -> device id
        self._lock = threading.Lock()
        self.last: dict[str, dict[str, Any]] = {}
        self.status: bytes | None = None
        self.record_sets = False
        self.sets: list[tuple[float, str]] = []  # (arrival, state topic) of every /set while record_sets
        self._watch: Watch | None = None
        self._subscribed = threading.Event()
        self.client = _client("bench-observer")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        _connect(self.client, host, port)
        self.client.subscribe([(f"{self.base}/+", 1), (f"{self.base}/+/set", 1), (self.status_topic, 1)])
        if not self._subscribed.wait(10):
            raise BenchError("observer could not subscribe")

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        topic = msg.topic
        with self._lock:
            if topic in self.state_topics:
                try:
                    report = json.loads(msg.payload)
                except ValueError:
                    return
                if not isinstance(report, dict):
                    return
                self.last[topic] = report
                watch = self._watch
                if (
                    watch is not None
                    and topic in watch.expected
                    and topic not in watch.reported_at
                    and matches(report, watch.expected[topic])
                ):
                    watch.reported_at[topic] = now
                    if len(watch.reported_at) == len(watch.expected):
                        watch.done.set()
            elif topic.endswith("/set"):
                state_topic = topic[: -len("/set")]
                if self.record_sets:
                    self.sets.append((now, state_topic))
                watch = self._watch
                if watch is not None and state_topic in watch.expected:
                    watch.commanded_at.setdefault(state_topic, now)
            elif topic == self.status_topic:
                self.status = bytes(msg.payload)

    def watch(self, expected: dict[str, dict[str, Any]]) -> Watch:
        """Start watching (call just before the publish that should cause these reports)."""
        watch = Watch(expected, time.perf_counter())
        if not expected:
            watch.done.set()
        with self._lock:
            self._watch = watch
        return watch

    def unwatch(self) -> None:
        with self._lock:
            self._watch = None

    def snapshot(self) -> tuple[dict[str, dict[str, Any]], bytes | None]:
        with self._lock:
            return dict(self.last), self.status

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()


class Kiosk:
    """A venue's check-in kiosk: QoS 1 publishes on `ambience/<venue>/checkin|checkout`."""

    def __init__(self, host: str, port: int, venue_id: str, max_inflight: int = 20) -> None:
        self.checkin_topic = f"ambience/{venue_id}/checkin"
        self.checkout_topic = f"ambience/{venue_id}/checkout"
        self.client = _client("bench-kiosk")
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        _connect(self.client, host, port)

    def checkin(self, member_id: str, community_id: str) -> mqtt.MQTTMessageInfo:
        body = json.dumps({"member_id": member_id, "community_id": community_id})
        return self.client.publish(self.checkin_topic, body, qos=1)

    def checkout(self, member_id: str) -> mqtt.MQTTMessageInfo:
        return self.client.publish(self.checkout_topic, json.dumps({"member_id": member_id}), qos=1)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()


def broker_round_trips(host: str, port: int, samples: int, timeout_s: float = 2.0) -> list[float]:
    """QoS 1 publish by one client -> arrival at another client subscribed with QoS 1, `samples` times, one
    at a time; seconds. A sample that does not arrive within `timeout_s` is left out."""
    topic = f"bench-rtt/{uuid.uuid4().hex[:8]}"
    arrived = threading.Event()
    expected = [b""]
    received_at = [0.0]

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.payload == expected[0]:
            received_at[0] = time.perf_counter()
            arrived.set()

    subscribed = threading.Event()
    sub = _client("bench-rtt-sub")
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    pub = _client("bench-rtt-pub")
    results: list[float] = []
    try:
        _connect(sub, host, port)
        sub.subscribe(topic, qos=1)
        if not subscribed.wait(5):
            raise BenchError("round-trip subscriber could not subscribe")
        _connect(pub, host, port)
        for i in range(samples + 10):  # the first 10 warm up and are not counted
            arrived.clear()
            expected[0] = f"{i}:{'x' * 120}".encode()  # about the size of a state message
            t0 = time.perf_counter()
            pub.publish(topic, expected[0], qos=1)
            if arrived.wait(timeout_s) and i >= 10:
                results.append(received_at[0] - t0)
            time.sleep(0.002)
    finally:
        for client in (pub, sub):
            with contextlib.suppress(Exception):
                client.disconnect()
            client.loop_stop()
    return results


# -- processes ---------------------------------------------------------------------------------------------------


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


BROKER_KINDS = ("default", "save-every-change")


class BenchVenue:
    """A whole venue on loopback; `with BenchVenue(devices=50) as v: v.wait_ready(...)`."""

    def __init__(
        self,
        devices: int | None = None,
        keep: bool = False,
        switch_interval_s: float | None = None,
        zone_groups: bool = False,
        broker: str = "default",
        kiosk_inflight: int = 20,
    ) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.switch_interval_s = switch_interval_s
        self.kiosk_inflight = kiosk_inflight
        self._tmp = tempfile.TemporaryDirectory(prefix="ambience-bench-")
        self.keep = keep
        self.zone_groups = zone_groups
        self.workdir = Path(self._tmp.name)
        self.broker_kind = broker
        self.broker = MosquittoBroker(self.workdir / "mosquitto", save_every_change=broker == "save-every-change")
        self.store_path = self.workdir / "ambience.db"
        self.doc = venue_document(self.broker.url, self.store_path, devices, self.tag)
        self.venue_id: str = self.doc["venue"]["id"]
        self.base_topic: str = self.doc["mqtt"]["base_topic"]
        self.devices: list[dict[str, Any]] = [d for d in self.doc["devices"] if d.get("driver", "mqtt") == "mqtt"]
        self.state_topics = {f"{self.base_topic}/{d['topic']}": d["id"] for d in self.devices}
        self.topic_of = {d["id"]: f"{self.base_topic}/{d['topic']}" for d in self.devices}
        self.config_path = self.workdir / "venue.yaml"
        self.config_path.write_text(yaml.safe_dump(self.doc, sort_keys=False))
        self.profiles = load_profiles()
        self.limits: dict[str, Any] = dict(self.doc.get("limits") or {})
        self.default_profile: str | None = (self.doc.get("policy") or {}).get("default_profile")
        self.sim: subprocess.Popen[bytes] | None = None
        self.service: subprocess.Popen[bytes] | None = None
        self.observer: Observer | None = None
        self.kiosk: Kiosk | None = None
        self.service_exit: int | None = None
        self.sim_exit: int | None = None
        self.final_status: bytes | None = None  # the service's retained status once it has stopped
        self._stopped = False

    # -- lifetime --------------------------------------------------------------------------------------------

    def __enter__(self) -> BenchVenue:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        try:
            return subprocess.Popen(
                args,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
                preexec_fn=die_with_parent,  # noqa: PLW1509 - called before any thread of ours exists
            )
        finally:
            log.close()

    def start(self) -> None:
        self.broker.start()
        py = sys.executable
        # Both children are spawned before this process starts any thread (the MQTT clients below), which
        # keeps `preexec_fn` safe.
        sim_cli = ["--config", str(self.config_path), "--url", self.broker.url, "--log-level", "warning"]
        if self.zone_groups:
            sim_cli.append("--zone-groups")
        self.sim = self._spawn("sim", [py, "-m", "firmware_sim", *sim_cli])
        cli = ["--log-level", "warning", "run", "--config", str(self.config_path)]
        if self.switch_interval_s is None:
            self.service = self._spawn("service", [py, "-m", "controller", *cli])
        else:  # a diagnostic: the same service with another GIL switch interval (CPython's default is 5 ms)
            code = (
                f"import sys; sys.setswitchinterval({self.switch_interval_s!r}); "
                f"from controller.cli.commands import main; sys.exit(main({cli!r}))"
            )
            self.service = self._spawn("service", [py, "-c", code])
        host, port = self.broker.host, self.broker.port
        self.observer = Observer(host, port, self.base_topic, self.venue_id, self.state_topics)
        self.kiosk = Kiosk(host, port, self.venue_id, self.kiosk_inflight)

    def _stop_process(self, proc: subprocess.Popen[bytes] | None) -> int | None:
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop(self) -> None:
        """Service (SIGTERM: it says offline and exits 0), then the devices, then the broker. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.service_exit = self._stop_process(self.service)
            if self.service is not None and self.observer is not None:
                deadline = time.perf_counter() + 2.0
                while self.observer.snapshot()[1] != b"offline" and time.perf_counter() < deadline:
                    time.sleep(0.01)
                self.final_status = self.observer.snapshot()[1]
            self.sim_exit = self._stop_process(self.sim)
            for client in (self.kiosk, self.observer):
                if client is not None:
                    client.close()
            self.kiosk = self.observer = None
        finally:
            self.broker.stop()
            if self.keep:
                print(f"# kept {self.workdir}", file=sys.stderr)
            else:
                self._tmp.cleanup()

    # -- reading the venue -----------------------------------------------------------------------------------

    def expected(self, community: str) -> dict[str, dict[str, Any]]:
        """State topic -> fields each device must report once `community`'s profile is applied."""
        default = self.profiles.get(self.default_profile or "")
        profile = self.profiles[community]
        return {self.topic_of[d["id"]]: expected_report(d, profile, default, self.limits) for d in self.devices}

    def check_alive(self) -> None:
        for name, proc in (("service", self.service), ("sim", self.sim)):
            if proc is not None and proc.poll() is not None:
                raise BenchError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str) -> str:
        return _tail(self.workdir / f"{name}.log")

    def wait_ready(self, community: str, timeout_s: float) -> float:
        """Until the service's status is `online`, every device has reported, and every device shows
        `community`'s profile; returns the seconds it took. Raises BenchError with what was missing."""
        assert self.observer is not None
        start = time.perf_counter()
        deadline = start + timeout_s
        expected = self.expected(community)
        while True:
            last, status = self.observer.snapshot()
            missing = [t for t in expected if t not in last]
            wrong = [t for t in expected if t in last and not matches(last[t], expected[t])]
            if status == b"online" and not missing and not wrong:
                return time.perf_counter() - start
            self.check_alive()
            if time.perf_counter() > deadline:
                detail = [
                    f"status={status!r}",
                    f"{len(missing)} devices never reported",
                    f"{len(wrong)} not {community}",
                ]
                if wrong:
                    detail.append(f"e.g. {wrong[0]}: {last[wrong[0]]} != {expected[wrong[0]]}")
                raise BenchError(
                    f"venue not ready after {timeout_s:g} s: " + "; ".join(detail) + f"\n{self.log_tail('service')}"
                )
            time.sleep(0.02)

    def service_rss_mb(self) -> float:
        return peak_rss_mb(self.service.pid) if self.service is not None else math.nan

    def service_cpu_s(self) -> float:
        return cpu_seconds(self.service.pid) if self.service is not None else math.nan

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds so far of each process of the venue, and of this one (observer, kiosk)."""
        procs = {"service": self.service, "sim": self.sim, "broker": self.broker.proc}
        out = {name: cpu_seconds(p.pid) if p is not None else math.nan for name, p in procs.items()}
        out["bench"] = time.process_time()
        return out

    def db(self) -> sqlite3.Connection:
        """A read-only connection to the service's event record (WAL: reads never block its writer)."""
        conn = sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        return conn
