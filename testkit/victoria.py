"""Debian's victoria-metrics as the InfluxDB-protocol server of the tests: started on a free loopback port, stopped
and started again by tests that need an outage, and read back over its export API. Also used by
`bench/record_throughput.py`, so it imports nothing of pytest."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from controller.cli.broker import die_with_parent, free_port


class VictoriaMetrics:
    """A victoria-metrics process on 127.0.0.1; `stop()`/`start()` keep the port and the data directory."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        log = (self.workdir / "vm.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.workdir / 'data'}",
                "-retentionPeriod=1",
                "-search.latencyOffset=0s",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - the test thread outlives the process
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"victoria-metrics exited: {(self.workdir / 'vm.log').read_text()[-2000:]}")
            try:
                if self.get("/health") == "OK":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("victoria-metrics did not become healthy")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def get(self, path: str, timeout_s: float = 5.0) -> str:
        with urllib.request.urlopen(self.url + path, timeout=timeout_s) as response:
            body: bytes = response.read()
        return body.decode().strip()

    def event_ids(self, timeout_s: float = 5.0) -> set[int]:
        """Every `event_id` value of the ambience_event measurement stored so far (after a forced flush)."""
        self.get("/internal/force_flush")
        query = urllib.parse.urlencode({"match[]": '{__name__="ambience_event_event_id"}'})
        ids: set[int] = set()
        for line in self.get(f"/api/v1/export?{query}", timeout_s).splitlines():
            if line.strip():
                ids.update(int(v) for v in json.loads(line)["values"])
        return ids

    def wait_for_ids(self, expected: set[int], timeout_s: float = 30.0) -> set[int]:
        deadline = time.monotonic() + timeout_s
        seen: set[int] = set()
        while time.monotonic() < deadline:
            seen = self.event_ids()
            if expected <= seen:
                return seen
            time.sleep(0.2)
        return seen


def find_binary() -> str | None:
    """Debian's victoria-metrics, on the PATH or where the package puts it."""
    default = Path("/usr/bin/victoria-metrics")
    return shutil.which("victoria-metrics") or (str(default) if default.exists() else None)
