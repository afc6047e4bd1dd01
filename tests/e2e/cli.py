"""Running the `ambience` command line as a user does: a real subprocess, bounded in time, always stopped.

`ambience(...)` runs a command to completion. `started(...)` runs a long-lived one (run, sim, demo, events
--follow) with its output in files, so a chatty process can never block on a full pipe, and stops it for sure
on the way out, together with every descendant it was seen to have.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RUN_TIMEOUT_S = 30.0


def cli_env(tmpdir: Path | None = None) -> dict[str, str]:
    """The environment of a CLI process: this checkout first on the path; `tmpdir` for its temporary files."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


def ambience(*args: str, cwd: Path, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """`python -m controller ARGS` to completion (killed if it outlives `timeout`)."""
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        cwd=cwd,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def alive(process: psutil.Process) -> bool:
    """Running and not a zombie (a container's init may be slow to reap orphans)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Proc:
    """A long-lived `python -m MODULE ARGS` whose stdout/stderr go to files in `workdir`."""

    def __init__(
        self, module: str, args: Sequence[str], workdir: Path, name: str, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.out_path = workdir / f"{name}.stdout"
        self.err_path = workdir / f"{name}.stderr"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                cwd=workdir,
                env=env or cli_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        self.process = psutil.Process(self.popen.pid)
        self.seen: dict[int, psutil.Process] = {}

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.popen.poll() is None

    def failed(self) -> bool:
        """Exited with an error, so a wait on it is over (testkit.waiting.Watched); a command may end with 0."""
        return not self.running() and self.popen.returncode != 0

    def children(self) -> list[psutil.Process]:
        """Its descendants now; each is remembered, so `leftovers()` can ask about them after it exits."""
        try:
            found = self.process.children(recursive=True)
        except psutil.NoSuchProcess:
            found = []
        for child in found:
            self.seen.setdefault(child.pid, child)
        return found

    def leftovers(self) -> list[psutil.Process]:
        """Descendants seen earlier that are still running."""
        return [p for p in self.seen.values() if alive(p)]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 5.0) -> int:
        """Send `sig` and return the exit code; fails the test if it is still running after `timeout`."""
        self.children()
        self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running {timeout} s after {sig.name}") from None

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout} s") from None

    def close(self) -> None:
        """Make sure it and every descendant it was seen with are gone (only those: by pid, never by name)."""
        if self.running():
            self.children()
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        for process in self.leftovers():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        _, still = psutil.wait_procs(self.leftovers(), timeout=5)
        for process in still:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()

    def describe(self) -> str:
        return f"{self.name}: exit {self.popen.poll()}\nstdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}"


@contextlib.contextmanager
def started(
    module: str, args: Sequence[str], workdir: Path, name: str, env: dict[str, str] | None = None
) -> Iterator[Proc]:
    proc = Proc(module, args, workdir, name, env)
    try:
        yield proc
    finally:
        proc.close()


def processes_mentioning(*needles: str) -> list[psutil.Process]:
    """Live processes with every needle among their arguments: as a whole argument, or as a folder of one."""

    def has(args: list[str], needle: str) -> bool:
        return any(arg == needle or arg.startswith(needle.rstrip("/") + "/") for arg in args)

    found = []
    for process in psutil.process_iter(["cmdline"]):
        args = process.info["cmdline"] or []
        if all(has(args, needle) for needle in needles) and alive(process):
            found.append(process)
    return found
