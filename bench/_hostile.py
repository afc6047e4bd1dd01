"""Shared set-up for `bench/hostile.py`: one venue on loopback, built from the tree under test, always torn down.

The harness imports nothing of the project: it must measure the code of `--tree` (the committed "before" tree in
a worktree, or the working tree "after" a change) with exactly the same client side, so it carries its own small
copies of what `_venue.py` takes from `controller` (finding Mosquitto, a free port); of this checkout it imports
`testkit.processes` alone, which uses the standard library only, whichever tree is measured. Only the processes it
starts run project code, each as `python -m MODULE` with its working directory and `PYTHONPATH` set to the tree; the
`ambience.http` entry point (the API) is resolved by importing `api.server`, so `PYTHONPATH` decides which API is
served, and `Tree.check_imports` proves it before anything starts.

`Venue` writes `<tree>/examples/venue.yaml` into a temporary folder with a fresh venue id, the broker's URL, the
store in that folder, the tree's example profiles and a free API port, then starts, each as a real process:

- Mosquitto on a free loopback port (the config `controller.cli.broker.MosquittoBroker` writes by default: persistence
  saved once a second; the per-client queue is raised so a flood is queued, not dropped),
- the service, `python -m controller --log-level warning run --config F`, with the admin token in the
  environment variable the config names,
- the simulated devices, `python -m firmware_sim --config F2` (F minus any device a scenario plays itself).

Leaving the `with` block (normally, on an error, on Ctrl-C or SIGTERM inside `interruptible()`) closes the MQTT
clients, then stops the service (SIGTERM; killed after 10 s), the simulator and the broker; the children also get
SIGTERM if this process dies without cleaning up. Nothing listens or connects beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import secrets
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # testkit, for `python bench/X.py` and its imports
from testkit.processes import die_with_parent  # the standard library only: nothing of the tree under test

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
STOP_GRACE_S = 10.0
READY_TIMEOUT_S = 40.0
MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


class BenchError(RuntimeError):
    """The venue could not be brought up (or died); the message says what was missing."""


# -- numbers -----------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 20 samples is the maximum); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def json_safe(value: Any) -> Any:
    """NaN (a figure that could not be measured) as null, so the JSON line is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def mib(n_bytes: float | None) -> str:
    return "n/a" if n_bytes is None else f"{n_bytes / MIB:.1f} MiB"


# -- /proc -------------------------------------------------------------------------------------------------------


def proc_status_mib(pid: int, key: str) -> float:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM) in MiB; NaN if it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return math.nan


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far; NaN if it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class RssSampler(threading.Thread):
    """VmRSS of `pid` every `interval_s` until stopped (or `max_s`); keeps the largest value seen."""

    def __init__(self, pid: int, interval_s: float = 0.05, max_s: float = 900.0) -> None:
        super().__init__(name="bench-rss", daemon=True)
        self.pid, self.interval_s, self.max_s = pid, interval_s, max_s
        self.max_mib = math.nan
        self._stop_event = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.max_s
        while not self._stop_event.wait(self.interval_s) and time.monotonic() < deadline:
            rss = proc_status_mib(self.pid, "VmRSS")
            if not math.isnan(rss) and (math.isnan(self.max_mib) or rss > self.max_mib):
                self.max_mib = rss

    def stop(self) -> float:
        self._stop_event.set()
        self.join(5)
        return self.max_mib


# -- processes ---------------------------------------------------------------------------------------------------


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or next((c for c in MOSQUITTO_CANDIDATES if os.access(c, os.X_OK)), None)
    if found is None:
        raise BenchError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return True
        time.sleep(0.02)
    return False


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - chars))
            return f.read().decode(errors="replace")
    except OSError:
        return "(no log)"


def _stop_process(proc: subprocess.Popen[bytes] | None, grace_s: float = STOP_GRACE_S) -> int | None:
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace_s)
    return proc.returncode


# -- the tree under test -----------------------------------------------------------------------------------------

_IMPORT_CHECK = """
import json, sys
import controller
out = {"controller": controller.__file__, "entry_point": None, "api": None}
try:
    from importlib.metadata import entry_points
    found = list(entry_points(group="ambience.http"))  # how older trees found the API
except Exception:
    found = []
if found:
    out["entry_point"] = found[0].value
    serve = found[0].load()
    out["api"] = sys.modules[serve.__module__].__file__
else:
    import api.server
    out["api"] = api.server.__file__
print(json.dumps(out))
"""


class Tree:
    """A checkout whose `controller`, `api` and `firmware_sim` the started processes run."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        for part in ("controller", "api", "firmware_sim", "examples/venue.yaml", "examples/profiles"):
            if not (self.path / part).exists():
                raise BenchError(f"--tree {self.path}: no {part} there")

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.path)  # this tree only: it is searched before the venv's editable install
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra or {})
        return env

    def check_imports(self) -> dict[str, Any]:
        """Which files a process started like the service imports: controller and the entry point's API module
        must both come from this tree (else BenchError)."""
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT_CHECK],
            cwd=self.path,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"cannot import the tree's code: {done.stderr[-1500:]}")
        found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        for key in ("controller", "api"):
            where = found.get(key)
            if where is None or not Path(where).resolve().is_relative_to(self.path):
                raise BenchError(f"{key} would be imported from {where}, not from {self.path}")
        return found

    def describe(self) -> str:
        rev = subprocess.run(
            ["git", "-C", str(self.path), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(self.path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
        if not rev:
            return f"{self.path} (not a git checkout)"
        changed = len(status.splitlines())
        return f"{self.path} at {rev}" + (f" + {changed} changed files" if changed else " (clean)")


# -- HTTP ----------------------------------------------------------------------------------------------------------


def http_get(port: int, path: str, timeout_s: float, token: str | None = None) -> tuple[int | None, bytes, float]:
    """One GET on a fresh connection: (status or None on failure/timeout, body, seconds)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, time.perf_counter() - t0
    except (OSError, http.client.HTTPException):
        return None, b"", time.perf_counter() - t0
    finally:
        conn.close()


@dataclass
class PollSummary:
    polls: int
    failed: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    timeout_s: float

    def line(self) -> str:
        return (
            f"{self.polls} polls, p50 {fmt(self.p50_ms)} ms, p99 {fmt(self.p99_ms)} ms, max {fmt(self.max_ms)} ms,"
            f" {self.failed} failed or timed out ({self.timeout_s:g} s timeout)"
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class HealthPoller(threading.Thread):
    """`GET /healthz` every `interval_s` (the next one starts at once when one took longer) on one keep-alive
    connection, reopened after a failure; each request is bounded by `timeout_s`, the whole by `max_s`."""

    def __init__(self, port: int, interval_s: float, timeout_s: float = 10.0, max_s: float = 900.0) -> None:
        super().__init__(name="bench-healthz", daemon=True)
        self.port, self.interval_s, self.timeout_s, self.max_s = port, interval_s, timeout_s, max_s
        self.samples: list[tuple[float, float, bool]] = []  # (start, seconds, answered 200)
        self._stop_event = threading.Event()

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        start = time.perf_counter()
        next_at = start
        try:
            while not self._stop_event.is_set() and time.perf_counter() - start < self.max_s:
                t0 = time.perf_counter()
                ok = False
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout_s)
                    conn.request("GET", "/healthz")
                    resp = conn.getresponse()
                    resp.read()
                    ok = resp.status == 200
                    if resp.will_close:
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                self.samples.append((t0, time.perf_counter() - t0, ok))
                next_at = max(next_at + self.interval_s, time.perf_counter())
                self._stop_event.wait(max(0.0, next_at - time.perf_counter()))
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> PollSummary:
        self._stop_event.set()
        self.join(self.timeout_s + 5)
        return self.summary()

    def summary(self) -> PollSummary:
        samples = list(self.samples)
        ms = [s[1] * 1000 for s in samples]
        return PollSummary(
            polls=len(samples),
            failed=sum(1 for s in samples if not s[2]),
            p50_ms=percentile(ms, 50),
            p99_ms=percentile(ms, 99),
            max_ms=max(ms, default=math.nan),
            timeout_s=self.timeout_s,
        )


class ResponseReader:
    """An HTTP/1.1 response fed in pieces: status, headers, and the body counted (only its start is kept)."""

    KEEP = 300

    def __init__(self) -> None:
        self.head = b""
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body_bytes = 0
        self.body_start = b""
        self.length: int | None = None
        self.first_byte_at: float | None = None

    @property
    def complete(self) -> bool:
        return self.status is not None and self.length is not None and self.body_bytes >= self.length

    def feed(self, data: bytes, now: float) -> None:
        if self.first_byte_at is None:
            self.first_byte_at = now
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > 65536:
                    raise ValueError("response head longer than 64 KiB")
                return
            head, data = self.head[:end], self.head[end + 4 :]
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
            for line in lines[1:]:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
            if "content-length" in self.headers and self.headers["content-length"].isdigit():
                self.length = int(self.headers["content-length"])
        if len(self.body_start) < self.KEEP:
            self.body_start += data[: self.KEEP - len(self.body_start)]
        self.body_bytes += len(data)


@dataclass
class PostResult:
    """One raw POST: what was sent, when the answer came, what it was."""

    body_size: int
    sent: int = 0  # body bytes the socket took in all
    sent_at_answer: int | None = None  # body bytes the socket had taken when the first response byte arrived
    answer_s: float | None = None  # connect -> first response byte
    status: int | None = None
    response_bytes: int = 0  # response body bytes received
    response_start: bytes = b""
    error: str | None = None
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "response_start"}
        out["response_start"] = self.response_start[:120].decode(errors="replace")
        return out


def post_raw(
    port: int,
    path: str,
    body: bytes,
    deadline_s: float,
    headers: dict[str, str] | None = None,
    chunk: int = 256 * 1024,
) -> PostResult:
    """POST `body` over a plain socket with `Connection: close`, reading whenever the server says something:
    a server may answer (and close) before it has read the whole body; then sending stops. Bounded by
    `deadline_s` in all; the response body is counted, not kept."""
    result = PostResult(len(body))
    started = time.perf_counter()
    deadline = started + deadline_s
    reader = ResponseReader()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    view = memoryview(body)
    try:
        sock = socket.create_connection((HOST, port), timeout=5)
    except OSError as exc:
        result.error = f"connect: {exc}"
        return result
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sock.setblocking(False)
        writing = True
        while time.perf_counter() < deadline:
            want_write = writing and result.sent < len(body) and reader.first_byte_at is None
            readable, writable, _ = select.select([sock], [sock] if want_write else [], [], 0.5)
            if readable:
                try:
                    data = sock.recv(1 << 20)
                except BlockingIOError:
                    data = None
                except OSError as exc:
                    result.error = f"recv: {exc.__class__.__name__}"
                    break
                if data == b"":
                    break  # the server closed
                if data:
                    now = time.perf_counter()
                    if reader.first_byte_at is None:
                        result.sent_at_answer = result.sent
                        result.answer_s = now - started
                    reader.feed(data, now)
                    if reader.complete:
                        break
                    continue
            if writable:
                try:
                    result.sent += sock.send(view[result.sent : result.sent + chunk])
                except BlockingIOError:
                    pass
                except OSError as exc:  # EPIPE/ECONNRESET: the server closed while we were still sending
                    result.error = f"send: {exc.__class__.__name__} after {result.sent} bytes"
                    writing = False
        else:
            result.error = (result.error or "") + f" deadline {deadline_s:g} s"
    except ValueError as exc:
        result.error = str(exc)
    finally:
        sock.close()
    result.status = reader.status
    result.response_bytes = reader.body_bytes
    result.response_start = reader.body_start
    result.elapsed_s = time.perf_counter() - started
    return result


def json_body(size: int, member_id: str) -> bytes:
    """A check-in whose `community_id` is a string of 'x' that makes the whole body exactly `size` bytes."""
    prefix = f'{{"member_id":"{member_id}","community_id":"'.encode()
    suffix = b'"}'
    return prefix + b"x" * max(0, size - len(prefix) - len(suffix)) + suffix


# -- MQTT ----------------------------------------------------------------------------------------------------------


def mqtt_client(prefix: str, port: int, inflight: int = 20, timeout_s: float = 10.0) -> mqtt.Client:
    """A connected paho client (MQTT 3.1.1, clean session, unbounded outgoing queue) with its network loop
    running; at most `inflight` QoS 1 publishes wait for their PUBACK at once."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"{prefix}-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311
    )
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.connect(HOST, port, keepalive=60)
    client.loop_start()
    if not connected.wait(timeout_s):
        client.loop_stop()
        raise BenchError(f"could not connect to mqtt://{HOST}:{port}")
    return client


def close_client(client: mqtt.Client) -> None:
    with contextlib.suppress(Exception):
        client.disconnect()
    client.loop_stop()


# -- the venue -----------------------------------------------------------------------------------------------------


def _mosquitto_config(port: int, workdir: Path) -> str:
    lines = [
        f"listener {port} {HOST}",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {workdir}/",
        "autosave_interval 1",
        "max_queued_messages 1000000",  # MosquittoBroker has 100000; a flood beyond that must not be dropped
        f"log_dest file {workdir}/mosquitto.log",
        "log_type error",
        "log_type warning",
        "log_type notice",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # else mosquitto drops to a user that cannot write the private temp dir
    return "\n".join(lines) + "\n"


@dataclass
class Venue:
    """`with Venue(tree) as v:` a running venue (broker, service with its API, simulated devices)."""

    tree: Tree
    sim: bool = True
    sim_exclude: Sequence[str] = ()
    keep: bool = False
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="ambience-hostile-")
        self.workdir = Path(self._tmp.name)
        self.broker_port = free_port()
        self.api_port = free_port()
        self.store_path = self.workdir / "ambience.db"
        doc: dict[str, Any] = yaml.safe_load((self.tree.path / "examples" / "venue.yaml").read_text())
        doc["venue"] = {"id": f"hostile-{self.tag}", "name": f"Hostile bench {self.tag}"}
        doc["mqtt"] = {**(doc.get("mqtt") or {}), "url": f"mqtt://{HOST}:{self.broker_port}"}
        doc["api"] = {**(doc.get("api") or {}), "host": HOST, "port": self.api_port}
        doc["store"] = {**(doc.get("store") or {}), "path": str(self.store_path)}
        doc["profiles_dir"] = str(self.tree.path / "examples" / "profiles")
        doc.pop("hue_bridges", None)
        self.doc = doc
        self.venue_id: str = doc["venue"]["id"]
        self.base_topic: str = doc["mqtt"].get("base_topic") or "zigbee2mqtt"
        self.token_env: str = doc["api"].get("admin_token_env") or "AMBIENCE_ADMIN_TOKEN"
        self.devices: list[dict[str, Any]] = list(doc.get("devices") or [])
        self.config_path = self.workdir / "venue.yaml"
        self.config_path.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.broker: subprocess.Popen[bytes] | None = None
        self.service: subprocess.Popen[bytes] | None = None
        self.simulator: subprocess.Popen[bytes] | None = None
        self.clients: list[mqtt.Client] = []
        self.service_exit: int | None = None
        self._stopped = False

    # -- lifetime ------------------------------------------------------------------------------------------------

    def __enter__(self) -> Venue:
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

    def _spawn(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("wb") as log:
            return subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
                preexec_fn=die_with_parent,  # noqa: PLW1509 - spawned before any thread of ours exists
            )

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(_mosquitto_config(self.broker_port, self.workdir))
        self.broker = self._spawn("mosquitto", [find_mosquitto(), "-c", str(conf)], dict(os.environ), self.workdir)
        if not wait_for_port(self.broker_port, 10):
            raise BenchError(f"mosquitto did not listen on {self.broker_port}: {_tail(self.workdir / 'mosquitto.log')}")
        py = sys.executable
        env = self.tree.env({self.token_env: self.token})
        cli = ["-m", "controller", "--log-level", "warning", "run", "--config", str(self.config_path)]
        self.service = self._spawn("service", [py, *cli], env, self.tree.path)
        if self.sim:
            sim_doc = dict(self.doc)
            sim_doc["devices"] = [d for d in self.devices if d.get("id") not in set(self.sim_exclude)]
            sim_path = self.workdir / "sim.yaml"
            sim_path.write_text(yaml.safe_dump(sim_doc, sort_keys=False))
            sim_cli = ["-m", "firmware_sim", "--config", str(sim_path), "--log-level", "warning"]
            self.simulator = self._spawn("sim", [py, *sim_cli], self.tree.env(), self.tree.path)
        self.wait_ready(READY_TIMEOUT_S)

    def wait_ready(self, timeout_s: float) -> None:
        """Until `/healthz` answers 200 with the broker connected, then 2 s for the start-up commands to settle."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.check_alive()
            status, body, _ = http_get(self.api_port, "/healthz", 2.0)
            if status == 200:
                with contextlib.suppress(ValueError):
                    if json.loads(body).get("mqtt") == "connected":
                        break
            if time.monotonic() > deadline:
                raise BenchError(f"service not ready after {timeout_s:g} s:\n{self.log_tail('service')}")
            time.sleep(0.1)
        time.sleep(2.0)

    def stop(self) -> None:
        """MQTT clients, service (SIGTERM, then kill), simulator, broker. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            for client in self.clients:
                close_client(client)
            self.clients.clear()
            self.service_exit = _stop_process(self.service)
        finally:
            try:
                _stop_process(self.simulator)
            finally:
                try:
                    _stop_process(self.broker, 5.0)
                finally:
                    if self.keep:
                        print(f"# kept {self.workdir}", file=sys.stderr)
                    else:
                        self._tmp.cleanup()

    # -- reading the venue -----------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        assert self.service is not None
        return self.service.pid

    def alive(self) -> bool:
        return self.service is not None and self.service.poll() is None

    def check_alive(self) -> None:
        for name, proc in (("service", self.service), ("sim", self.simulator), ("mosquitto", self.broker)):
            if proc is not None and proc.poll() is not None:
                raise BenchError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str) -> str:
        return _tail(self.workdir / f"{name}.log")

    def log_size(self, name: str = "service") -> int:
        try:
            return (self.workdir / f"{name}.log").stat().st_size
        except OSError:
            return 0

    def mqtt(self, prefix: str, inflight: int = 20) -> mqtt.Client:
        client = mqtt_client(prefix, self.broker_port, inflight)
        self.clients.append(client)
        return client

    def topic(self, name: str) -> str:
        return f"ambience/{self.venue_id}/{name}"

    def db(self) -> sqlite3.Connection:
        """A read-only connection to the service's event record (WAL: reads never block its writer)."""
        conn = sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def last_event_id(self) -> int:
        with contextlib.closing(self.db()) as conn:
            return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    def count(self, conn: sqlite3.Connection, type_: str, since_id: int) -> int:
        return int(
            conn.execute("SELECT COUNT(*) FROM events WHERE type = ? AND id > ?", (type_, since_id)).fetchone()[0]
        )

    def counts_by_type(self, since_id: int) -> dict[str, int]:
        with contextlib.closing(self.db()) as conn:
            rows = conn.execute("SELECT type, COUNT(*) FROM events WHERE id > ? GROUP BY type", (since_id,)).fetchall()
        return {str(t): int(n) for t, n in rows}

    def stored_bytes(self, since_id: int, type_: str | None = None) -> tuple[int, int]:
        """(payload characters, row text characters: payload + ts + venue + type) of events after `since_id`."""
        sql = "SELECT COALESCE(SUM(LENGTH(payload)), 0), COALESCE(SUM(LENGTH(payload) + LENGTH(ts) + LENGTH(venue)"
        sql += " + LENGTH(type)), 0) FROM events WHERE id > ?" + (" AND type = ?" if type_ else "")
        with contextlib.closing(self.db()) as conn:
            row = conn.execute(sql, (since_id, type_) if type_ else (since_id,)).fetchone()
        return int(row[0]), int(row[1])

    def record_size(self) -> int:
        """Bytes on disk of the record: the SQLite file, its WAL and its shared-memory index."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                total += Path(f"{self.store_path}{suffix}").stat().st_size
        return total

    def db_size(self) -> int:
        """The database as readers see it, WAL included (page_count x page_size): what it holds, not its files."""
        with contextlib.closing(self.db()) as conn:
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
            return pages * int(conn.execute("PRAGMA page_size").fetchone()[0])

    def rss(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) of the service (the process serving the API) in MiB."""
        return proc_status_mib(self.pid, "VmRSS"), proc_status_mib(self.pid, "VmHWM")

    def wait_settled(self, since_id: int, quiet_s: float, timeout_s: float) -> dict[str, int]:
        """Until no event has been added after `since_id` for `quiet_s` (or `timeout_s`); the counts by type."""
        deadline = time.monotonic() + timeout_s
        last: tuple[int, float] = (-1, time.monotonic())
        while time.monotonic() < deadline:
            newest = self.last_event_id()
            if newest != last[0]:
                last = (newest, time.monotonic())
            elif time.monotonic() - last[1] >= quiet_s:
                break
            time.sleep(0.2)
        return self.counts_by_type(since_id)
