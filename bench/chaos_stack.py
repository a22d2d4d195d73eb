"""The processes of a chaos run, every one started here and stopped here by its own PID.

Its own Redis (our broker, cache, DLQ and breakers: nothing on disk), a second Redis playing the
outside world (the sandboxes' ledgers and faults, which survive a restart of ours), its own
PostgreSQL cluster in a temporary directory, then gunicorn, the sandboxes, one Celery worker per
queue and beat, all against those. Restarting Redis or PostgreSQL as a fault therefore never
touches the machine's shared services or anyone else's tests.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from glob import glob
from pathlib import Path

import psycopg
import redis
from chaos_processes import Process, answers, pick_ports, wait_until

from ordersite.queues import Queue, worker_argv
from ordersite.redis import client as redis_client

ROOT = Path(__file__).resolve().parent.parent
QUEUES = tuple(Queue)

# Short timings, so a run settles in seconds: the reconciler re-sends after 3 s (beat runs it every
# second), retries back off at most 2 s, breakers stay open 2 s and a step waits on one at most
# 6 s before it is dead-lettered, a hung gateway costs 1.5 s.
# Compensations retry longer than any outage a scenario injects: they must end up done.
TIMINGS = {
    "PIPELINE_STUCK_AFTER_SECONDS": "3",
    "PIPELINE_RECONCILE_EVERY_SECONDS": "1",
    "CARRIER_PENDING_RETRY_SECONDS": "2",
    "PIPELINE_MAX_RETRIES": "5",
    "PIPELINE_RETRY_BACKOFF": "1",
    "PIPELINE_RETRY_BACKOFF_MAX": "2",
    "PIPELINE_SHIP_MAX_RETRIES": "3",
    "PIPELINE_COMPENSATION_MAX_RETRIES": "40",
    "BREAKER_OPEN_SECONDS": "2",
    "PIPELINE_BREAKER_WAIT_MAX_SECONDS": "6",  # a step stops waiting on an open breaker after 6 s
    "PIPELINE_DATABASE_WAIT_SECONDS": "1",
    "GATEWAY_CONNECT_TIMEOUT": "0.5",
    "GATEWAY_READ_TIMEOUT": "1.5",
    "SANDBOX_HANG_SECONDS": "3",
    "CELERY_VISIBILITY_TIMEOUT": "20",
}


class Stack:
    """Start with `up()`, stop with `down()` (always, in a finally)."""

    def __init__(self, *, ports: str | None = None, logs: Path | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="ordersite-chaos-"))
        self.tmp.chmod(0o755)  # PostgreSQL runs as its own user when we are root
        self.logs = logs
        names = (
            "redis",
            "world",
            "postgres",
            "web",
            "payments",
            "carrier_primary",
            "carrier_fallback",
        )
        self.port = dict(zip(names, pick_ports(len(names), ports), strict=True))
        self.base_url = f"http://127.0.0.1:{self.port['web']}"
        self.redis_url = f"redis://127.0.0.1:{self.port['redis']}/0"
        self.world_url = f"redis://127.0.0.1:{self.port['world']}/0"
        self.database_url = f"postgres://postgres@127.0.0.1:{self.port['postgres']}/ordersite_chaos"
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("PIPELINE_", "BREAKER_", "CELERY_", "DLQ_"))
            },
            "DJANGO_SETTINGS_MODULE": "ordersite.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            "CACHE_URL": self.redis_url,
            "SANDBOX_REDIS_URL": self.world_url,
            "PAYMENT_GATEWAY_URL": f"http://127.0.0.1:{self.port['payments']}",
            "CARRIER_PRIMARY_URL": f"http://127.0.0.1:{self.port['carrier_primary']}",
            "CARRIER_FALLBACK_URL": f"http://127.0.0.1:{self.port['carrier_fallback']}",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP
            "SANDBOXES_ENABLED": "true",  # run_sandboxes plays the gateways
            "SECRET_KEY": "chaos-run-only",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "ORDER_CREATE_THROTTLE_RATE": "",  # one customer token places every order
            "PYTHONUNBUFFERED": "1",
            **TIMINGS,
        }
        self.processes: dict[str, Process] = {}
        self.customer_token = self.staff_token = ""  # set once the database is seeded
        self.pg_user = "postgres" if os.geteuid() == 0 else None

    # --- the stores -----------------------------------------------------------------------------
    def _redis(self, name: str) -> Process:
        data = self.tmp / name
        data.mkdir(exist_ok=True)
        argv = [
            "redis-server",
            "--port",
            str(self.port[name]),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
        ]
        argv += ["no", "--dir", str(data)]
        return Process(name, argv, self.tmp / f"{name}.log", dict(os.environ))

    def _postgres(self) -> Process:
        binaries = sorted(glob("/usr/lib/postgresql/*/bin/postgres"))
        if not binaries:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        bindir = Path(binaries[-1]).parent
        data, sockets = self.tmp / "pgdata", self.tmp / "pgsock"
        if not data.exists():
            for directory in (data, sockets):
                directory.mkdir()
                if self.pg_user:
                    shutil.chown(directory, self.pg_user)
            initdb = [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
            subprocess.run(
                [*initdb, "--no-sync"], check=True, capture_output=True, user=self.pg_user
            )
        argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(self.port["postgres"])]
        argv += ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}"]
        argv += ["-c", "max_connections=300", "-c", "shared_buffers=64MB"]
        return Process(
            "postgres",
            argv,
            self.tmp / "postgres.log",
            dict(os.environ),
            user=self.pg_user,
            stop_signal=signal.SIGINT,
        )

    def _redis_ready(self, name: str) -> bool:
        try:
            probe = redis_client(
                f"redis://127.0.0.1:{self.port[name]}", timeout=0.5, sentinel=False
            )
            return bool(probe.ping())
        except redis.RedisError:
            return False

    def _postgres_ready(self, dbname: str = "postgres") -> bool:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=self.port["postgres"], user="postgres", dbname=dbname
            ):
                return True
        except psycopg.OperationalError:
            return False

    def start_store(self, name: str) -> None:
        process = self._postgres() if name == "postgres" else self._redis(name)
        self.processes[name] = process
        process.start()
        ready = self._postgres_ready if name == "postgres" else lambda: self._redis_ready(name)

        def up() -> bool:
            if not process.alive():
                raise RuntimeError(f"{name} exited:\n{process.log.read_text()[-2000:]}")
            return ready()

        wait_until(up, name, timeout=60)

    def crash_store(self, name: str) -> None:
        """Redis: SIGKILL (it keeps nothing on disk, so everything in it is gone). PostgreSQL: an
        immediate shutdown (SIGQUIT), as a crash: crash recovery on the next start."""
        process = self.processes[name]
        if name == "postgres":
            process.kill_tree(
                signal.SIGQUIT, children=False
            )  # the postmaster takes its backends down
        else:
            process.kill_tree(signal.SIGKILL)

    # --- the application ------------------------------------------------------------------------
    def _python(self, name: str, args: list[str]) -> Process:
        return Process(name, [sys.executable, *args], self.tmp / f"{name}.log", self.env)

    def start_app(self, name: str) -> None:
        if name == "web":
            args = ["-m", "gunicorn", "ordersite.wsgi", "--bind", f"127.0.0.1:{self.port['web']}"]
            args += ["--workers", "2", "--threads", "4", "--timeout", "60"]
        elif name == "sandboxes":
            args = ["manage.py", "run_sandboxes"]
        elif name == "beat":
            args = [
                "-m",
                "celery",
                "-A",
                "ordersite",
                "beat",
                "-l",
                "warning",
                "-s",
                str(self.tmp / "beat-schedule"),
            ]
        else:
            queue = name.removeprefix("worker-")
            # As the Procfile runs them: a thread pool (kill-workers then kills the whole worker).
            options = (
                "--pool=threads",
                "--concurrency=4",
                "-l",
                "warning",
                "--without-mingle",
                "--without-gossip",
            )
            args = ["-m", *worker_argv([queue], node=f"chaos-{queue}@%h", options=options)]
        self.processes[name] = self._python(name, args)
        self.processes[name].start()

    def app_names(self) -> list[str]:
        return ["web", "sandboxes", *(f"worker-{q}" for q in QUEUES), "beat"]

    def wait_app(self) -> None:
        wait_until(lambda: answers(f"{self.base_url}/api/v1/health"), "gunicorn", timeout=60)
        for name in ("payments", "carrier_primary", "carrier_fallback"):
            wait_until(lambda n=name: self.answers(n), name, timeout=60)
        wait_until(self.workers_ready, "workers", timeout=90, interval=0.5)

    def workers_ready(self) -> bool:
        """Every worker answers a ping (its pool is up and it consumes its queue)."""
        from ordersite.celery import app

        try:
            replies = app.control.ping(timeout=1.0) or []
        except Exception:  # noqa: BLE001  (broker not there yet)
            return False
        answered = {name.split("@")[0] for reply in replies for name in reply}
        return answered >= {f"chaos-{q}" for q in QUEUES}

    def up_stores(self) -> None:
        """Both Redis servers and PostgreSQL, with the database created and migrated."""
        for name in ("redis", "world", "postgres"):
            self.start_store(name)
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port["postgres"],
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute("CREATE DATABASE ordersite_chaos")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )

    def up(self, *, log: Callable[[str], None]) -> None:
        started = time.monotonic()
        self.up_stores()
        log(f"stores up and migrated in {time.monotonic() - started:.1f} s ({self.tmp})")
        for name in self.app_names():
            self.start_app(name)

    def answers(self, sandbox: str) -> bool:
        return answers(f"http://127.0.0.1:{self.port[sandbox]}/health")

    def restart(self, name: str) -> None:
        """Start again a process that was killed (a store: same port, same data directory)."""
        if name in ("redis", "world", "postgres"):
            self.start_store(name)
        else:
            self.start_app(name)

    def restart_app(self) -> None:
        """Stop and start again gunicorn, the workers and beat (not the stores, not the
        sandboxes)."""
        names = [name for name in self.app_names() if name != "sandboxes"]
        stoppers = [threading.Thread(target=self.processes[name].stop) for name in names]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for name in names:
            self.start_app(name)
        self.wait_app()

    def check_processes(self) -> list[str]:
        """Names of processes that died unasked since the last look; each is started again."""
        died = [name for name, process in self.processes.items() if not process.check()]
        for name in died:
            self.restart(name)
        return died

    def down(self) -> None:
        """Stop everything we started: the application first, all at once (a worker's warm
        shutdown waits for its tasks, bounded), then the stores."""
        apps = [
            process
            for name, process in self.processes.items()
            if name not in ("postgres", "world", "redis")
        ]
        stoppers = [threading.Thread(target=process.stop) for process in apps]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for name in ("postgres", "world", "redis"):
            if name in self.processes:
                with contextlib.suppress(Exception):
                    self.processes[name].stop()
        if self.logs is not None:
            self.logs.mkdir(parents=True, exist_ok=True)
            for log in self.tmp.glob("*.log"):
                shutil.copy(log, self.logs / log.name)
        shutil.rmtree(self.tmp, ignore_errors=True)
