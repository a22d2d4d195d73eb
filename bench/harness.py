"""The processes `make run` starts, started by a bench on ports, a Redis and a database of its
own, with CPU time read from /proc per role and PostgreSQL and Redis counters.

Every process is started from its Procfile line (so the bench runs what users run) and stopped
by its own PID. Only 127.0.0.1 is contacted.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port(start: int) -> int:
    for port in range(start, start + 500):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port from {start}")


def procfile() -> dict[str, str]:
    """role -> command, as `make run` (honcho) runs them."""
    roles = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        match = re.match(r"^([\w-]+):\s*(.+)$", line.strip())
        if match:
            roles[match[1]] = match[2]
    return roles


# --- CPU accounting --------------------------------------------------------------------------
# kombu's Redis transport keeps priority p (1..9) of a queue in "<queue>\x06\x16<p>".
_PRIORITY_SUFFIXES = tuple(f"\x06\x16{p}" for p in range(1, 10))


def wait_quiet(client: Any, timeout: float) -> bool:
    """Until no message waits in a pipeline queue or in a worker's hands on the broker `client`
    (a Redis client) is connected to, twice in a row 0.2 s apart; False if `timeout` seconds ran
    out first."""
    from ordersite.queues import Queue

    # kombu's Redis keys: a queue's list (and one per priority), the unacknowledged hash.
    keys = [f"{q.value}{suffix}" for q in Queue for suffix in ("", *_PRIORITY_SUFFIXES)]
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        pipe.hlen("unacked")
        quiet = quiet + 1 if not any(pipe.execute()) else 0
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def wait_orders_ended(ids: list[str], timeout: float) -> float:
    """Until every order is terminal or parked (`pending_shipment`), or `timeout` seconds ran
    out; returns the time it stopped waiting. Needs Django set up on the stack's database."""
    from orders.models import Order
    from orders.states import TERMINAL

    waiting = set(ids)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        ended = Order.objects.filter(public_id__in=list(waiting)[:5000]).filter(
            status__in=[*TERMINAL, "pending_shipment"]
        )
        waiting -= {str(v) for v in ended.values_list("public_id", flat=True)}
        if waiting:
            time.sleep(0.2)
    return time.time()


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(ppid, own + reaped children's CPU seconds) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return int(fields[1]), (utime + stime + cutime + cstime) / CLK_TCK


def process_tree() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat:
                tree.setdefault(stat[0], []).append(int(entry))
    return tree


def tree_cpu(root: int, tree: dict[int, list[int]] | None = None) -> float:
    """CPU seconds of `root` and every live descendant, plus what exited children used (a
    parent's cutime counts the children it reaped: autoscaled pools, PostgreSQL backends)."""
    tree = tree if tree is not None else process_tree()
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        stat = proc_stat(pid)
        if stat:
            total += stat[1]
        stack.extend(tree.get(pid, []))
    return total


def tree_rss_mb(root: int) -> float:
    tree, total, stack = process_tree(), 0, [root]
    while stack:
        pid = stack.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        stack.extend(tree.get(pid, []))
    return total / 1024


def postmaster_pid() -> int:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW data_directory"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return int(Path(out, "postmaster.pid").read_text().split()[0])


@dataclass
class Stack:
    """ordersite's processes on a database, a Redis server and ports of the bench's own."""

    db_name: str = "ordersite_bench"
    base_port: int = 8900
    extra_env: dict[str, str] = field(default_factory=dict)
    roles: tuple[str, ...] = (
        "web",
        "worker_orders",
        "worker_payments",
        "worker_inventory",
        "worker_shipping",
        "worker_notifications",
        "beat",
        "flower",
        "sandbox",
    )
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.logs = ROOT / "var" / "bench"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.base_port)
        self.redis_port = free_port(6390)
        sandbox = [free_port(self.port + 1)]
        sandbox += [free_port(sandbox[-1] + 1)]
        sandbox += [free_port(sandbox[-1] + 1)]
        self.flower_port = free_port(sandbox[-1] + 1)
        self.base = f"http://127.0.0.1:{self.port}"
        redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{self.db_name}",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "PAYMENT_GATEWAY_URL": f"http://127.0.0.1:{sandbox[0]}",
            "CARRIER_PRIMARY_URL": f"http://127.0.0.1:{sandbox[1]}",
            "CARRIER_FALLBACK_URL": f"http://127.0.0.1:{sandbox[2]}",
            "FLOWER_PORT": str(self.flower_port),
            "FLOWER_BASIC_AUTH": "admin:bench",
            "FLOWER_DB": str(self.logs / "flower.db"),  # not make run's history in var/
            "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.port} --workers 3",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        # A bench stopped by SIGTERM (a `timeout`, Ctrl-C's cousin) still runs its `finally`,
        # so no process it started outlives it.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        self.redis = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=(self.logs / "redis.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        subprocess.run(
            [str(ROOT / "bin" / "ensure-services"), self.db_name], check=True, capture_output=True
        )
        manage = [sys.executable, "manage.py"]
        subprocess.run(
            [*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True
        )
        commands = procfile()
        for role in self.roles:
            command = commands[role]
            env = dict(self.env)
            if role == "web":
                env["DJANGO_SETTINGS_MODULE"] = "bench.floor_settings"  # the floor endpoints, too
            if role.startswith("worker_"):
                command += " --include bench.floor"
            log = (self.logs / f"{role}.log").open("w")
            self.procs[role] = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if "web" in self.roles:
            self._wait_http(f"{self.base}/api/v1/health")
        if "sandbox" in self.roles:
            self._wait_http(f"{self.env['PAYMENT_GATEWAY_URL']}/health")
        deadline = time.monotonic() + 60
        for role in self.roles:
            if role.startswith("worker_"):
                log = self.logs / f"{role}.log"
                while "ready." not in log.read_text():
                    if time.monotonic() > deadline or self.procs[role].poll() is not None:
                        raise RuntimeError(f"{role} did not start:\n{log.read_text()[-2000:]}")
                    time.sleep(0.2)

    def _wait_http(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url, timeout=1)
                return
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer")

    def stop(self) -> None:
        for proc in [*self.procs.values(), getattr(self, "redis", None)]:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.procs.values(), getattr(self, "redis", None)]:
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    # --- readings ----------------------------------------------------------------------------
    def cpu(self) -> dict[str, float]:
        """CPU seconds so far, by role: web, workers, beat+flower, sandboxes, redis, postgres."""
        tree = process_tree()
        by_role = {role: tree_cpu(proc.pid, tree) for role, proc in self.procs.items()}
        return {
            "web": by_role.get("web", 0.0),
            "workers": sum(v for k, v in by_role.items() if k.startswith("worker_")),
            "beat+flower": by_role.get("beat", 0.0) + by_role.get("flower", 0.0),
            "sandboxes": by_role.get("sandbox", 0.0),
            "redis": tree_cpu(self.redis.pid, tree),
            "postgres": tree_cpu(postmaster_pid(), tree),
        }

    def rss_mb(self) -> dict[str, float]:
        return {role: tree_rss_mb(proc.pid) for role, proc in self.procs.items()} | {
            "redis": tree_rss_mb(self.redis.pid)
        }

    def pg_counters(self) -> dict[str, int]:
        """Commits and rows fetched in the bench database (pg_stat_database)."""
        out = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                self.db_name,
                "-tAc",
                "SELECT pg_stat_force_next_flush(); SELECT xact_commit, tup_fetched, tup_returned "
                f"FROM pg_stat_database WHERE datname = '{self.db_name}'",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        commits, fetched, returned = (int(v) for v in out[-1].split("|"))
        return {"commits": commits, "rows_fetched": fetched, "rows_returned": returned}

    def redis_commands(self) -> int:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), "INFO", "stats"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return int(re.search(r"total_commands_processed:(\d+)", out)[1])
