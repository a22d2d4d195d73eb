"""The chaos run's process handling: free ports, waiting on a condition, and Process, one child
started with its log and stopped (or killed, with its children) by its own PID."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def pick_ports(count: int, span: str | None) -> list[int]:
    """`count` free local ports: from `span` ("8600-8699") if given, else any the kernel offers."""
    ports: list[int] = []
    candidates = (
        range(int(span.split("-")[0]), int(span.split("-")[1]) + 1) if span else [0] * count * 4
    )
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen = probe.getsockname()[1]
        if chosen not in ports:
            ports.append(chosen)
        if len(ports) == count:
            return ports
    raise RuntimeError(f"no {count} free ports in {span or 'the ephemeral range'}")


def wait_until(
    check: Callable[[], bool], what: str, timeout: float = 60, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready within {timeout:.0f} s")
        time.sleep(interval)


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Process:
    """One process we started (and, for a Celery worker, the pool it forked)."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str]
    user: str | None = None
    stop_signal: int = (
        signal.SIGTERM
    )  # PostgreSQL: SIGINT, a fast shutdown (SIGTERM waits for clients)
    proc: subprocess.Popen | None = None
    expected_exit: bool = False
    exits: list[int] = field(default_factory=list)  # unexpected exit codes, for the report

    def start(self) -> None:
        self.expected_exit = False
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill_tree(self, sig: int = signal.SIGKILL, *, children: bool = True) -> None:
        """Signal this process and the children it forked (by their PIDs), as a crash would."""
        if not self.alive():
            return
        self.expected_exit = True
        children = children_of(self.pid) if children else []
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, sig)
        self.proc.wait(timeout=60)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL to it and its children if it lingers."""
        if not self.alive():
            return
        self.expected_exit = True
        children = children_of(self.pid)
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_tree()
        for child in children:  # a worker's pool processes: gone with it, or killed now
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)

    def check(self) -> bool:
        """False (and the exit recorded) if it died without being asked to."""
        if self.proc is None or self.alive() or self.expected_exit:
            return True
        self.exits.append(self.proc.returncode)
        return False
