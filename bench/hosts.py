"""Workers on a second host, on this machine: a network namespace of its own (`ip netns`), joined
to this one by a veth pair (10.231.X.1 here, 10.231.X.2 there; traffic never leaves the machine).
Its workers reach PostgreSQL, Redis, the broker and the gateways only through the URLs they are
given, at this side's veth address, where a TCP forwarder (bench/tcp_forward.py) relays to the
services listening on 127.0.0.1; nothing of the system's configuration is changed.

Needs root (ip netns). Namespaces are named `ordersite-h<pid>-<n>`: each is deleted when done, and
one whose creating process is gone is deleted by the next run (`cleanup_stale()`).

The bench: throughput with one worker host, then with two, in one run (orders placed at once,
time until every one completed), on the broker of CELERY_BROKER_URL (redis:// or amqp://):

    sudo .venv/bin/python bench/hosts.py --orders 2000 --broker redis --broker amqp://guest:guest@127.0.0.1:5672//

tests/test_second_host.py runs a short version, and kills the second host mid-run.
"""

import argparse
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PREFIX = "ordersite-h"
DEFAULT_PORTS = {"postgres": 5432, "postgresql": 5432, "redis": 6379, "amqp": 5672, "http": 80}
_counter = itertools.count(1)
# What a worker host reaches: the database, Redis, the broker, the gateways (the sandboxes).
SERVICE_URLS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "PAYMENT_GATEWAY_URL",
    "CARRIER_PRIMARY_URL",
    "CARRIER_FALLBACK_URL",
)


def _ip(*args: str, check: bool = True) -> str:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True).stdout


def namespace_pids(name: str) -> list[int]:
    return [int(pid) for pid in _ip("netns", "pids", name, check=False).split()]


def _delete_namespace(name: str) -> None:
    """Kill every process in it (by PID), then delete it (its veth pair goes with it)."""
    for _ in range(50):
        pids = namespace_pids(name)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    _ip("netns", "delete", name, check=False)


def cleanup_stale() -> list[str]:
    """Delete the namespaces of earlier runs whose process is gone (a crash, a SIGKILL)."""
    removed = []
    for line in _ip("netns", "list", check=False).splitlines():
        name = line.split()[0] if line.strip() else ""
        match = re.fullmatch(rf"{PREFIX}(\d+)-\d+", name)
        if match and not Path(f"/proc/{match[1]}").exists():
            _delete_namespace(name)
            removed.append(name)
    return removed


def _free_subnet() -> int:
    used = {int(x) for x in re.findall(r"inet 10\.231\.(\d+)\.", _ip("-o", "-4", "addr", "show"))}
    return next(x for x in range(1, 255) if x not in used)


class SecondHost:
    """A network namespace, its veth pair, and the forwarder that lets it reach our services."""

    def __init__(self, log_dir: Path) -> None:
        cleanup_stale()
        self.name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []
        self.forwarder: subprocess.Popen | None = None
        subnet = _free_subnet()
        self.address, self.inside = f"10.231.{subnet}.1", f"10.231.{subnet}.2"
        outer, inner = f"os{subnet}{os.getpid() % 1000}a", f"os{subnet}{os.getpid() % 1000}b"
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", self.name)
            _ip("addr", "add", f"{self.address}/24", "dev", outer)
            _ip("link", "set", outer, "up")
            _ip("-n", self.name, "addr", "add", f"{self.inside}/24", "dev", inner)
            _ip("-n", self.name, "link", "set", inner, "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            with contextlib.suppress(Exception):
                _ip("link", "delete", outer, check=False)
            raise

    def forward(self, urls: list[str]) -> None:
        """Relay this side's veth address to 127.0.0.1 for the ports of these URLs."""
        ports = sorted({_port(url) for url in urls})
        rules = [f"{port}=127.0.0.1:{port}" for port in ports]
        log = (self.log_dir / f"{self.name}-forward.log").open("w")
        self.forwarder = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "tcp_forward.py"), self.address, *rules],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while "forwarding" not in Path(log.name).read_text():
            if self.forwarder.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"forwarder did not start: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.05)

    def url(self, url: str) -> str:
        """`url` as the second host must use it: this side's veth address instead of 127.0.0.1."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo + '@' if userinfo else ''}{self.address}:{_port(url)}"
        return urlunsplit(parts._replace(netloc=netloc))

    def start(self, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        """Run `argv` inside the namespace (its PID is the command's: `ip netns exec` execs it)."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def kill_everything(self) -> list[int]:
        """SIGKILL every process in the namespace, as a host that loses power."""
        pids = namespace_pids(self.name)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        return pids

    def close(self) -> None:
        _delete_namespace(self.name)
        for proc in [*self.procs, self.forwarder]:
            if proc is not None and proc.poll() is None:
                proc.kill()
            if proc is not None:
                proc.wait(timeout=10)


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or DEFAULT_PORTS[parts.scheme]


def rename_node(command: str, host: str) -> str:
    """A Procfile worker line with its node name made unique to `host` (`-n orders@%h` gives the
    same name in every namespace: they share the machine's hostname)."""
    return re.sub(r"-n (\S+)@%h", rf"-n \1-{host}@%h", command)


# --- the bench ----------------------------------------------------------------------------------
def _seed(*, stock: int) -> None:
    """The demo catalog (prod-1 … prod-50), each with stock for every order of the run."""
    from inventory.models import Product
    from inventory.services import create_product, update_product
    from sandboxes.demo import demo_catalog

    for item in demo_catalog(50):
        if not Product.objects.filter(sku=item["sku"]).exists():
            create_product(**item)
    for product in Product.objects.filter(sku__startswith="prod-"):
        update_product(
            sku=product.sku,
            version=product.version,
            name=product.name,
            price_cents=product.price_cents,
            on_hand=product.reserved + stock,
        )


def _place(orders: int) -> tuple[list[int], float]:
    """Place `orders` orders from 8 threads (as web processes would), so placing them is not what
    limits the rate; returns their pks and when the first was placed."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from orders.services import place_order

    customer, _ = get_user_model().objects.get_or_create(username="bench-hosts")

    def place(n: int) -> int:
        try:
            return place_order(
                customer=customer, items=[{"sku": f"prod-{n % 50 + 1}", "quantity": 1}]
            )[0].pk
        finally:
            connection.close()

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(place, range(orders))), started


def _wait_done(pks: list[int], started: float, timeout: float) -> float:
    from orders.models import Order
    from orders.states import OrderStatus

    deadline = time.monotonic() + timeout
    while Order.objects.filter(pk__in=pks, status=OrderStatus.COMPLETED).count() < len(pks):
        if time.monotonic() > deadline:
            raise RuntimeError("orders not completed in time")
        time.sleep(0.2)
    return time.monotonic() - started


def _tasks_per_host() -> dict[str, int]:
    """Tasks each host's workers have run since they started (`inspect stats`, cheap: no log
    line per task), so the run shows that the second host took its share."""
    from ordersite.celery import app

    per_host = {"first": 0, "second": 0}
    for node, stats in (app.control.inspect(timeout=5).stats() or {}).items():
        per_host["second" if "-hostb@" in node else "first"] += sum(stats.get("total", {}).values())
    return per_host


def bench(args: argparse.Namespace) -> dict:
    from bench.harness import Stack, procfile

    extra = (
        {"CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"]}
        if "CELERY_BROKER_URL" in os.environ
        else {}
    )
    stack = Stack(db_name="ordersite_bench_hosts", roles=args.roles, extra_env=extra)
    host = None
    try:
        stack.start()
        os.environ.update({k: v for k, v in stack.env.items() if k != "DJANGO_SETTINGS_MODULE"})
        os.environ["DJANGO_SETTINGS_MODULE"] = "ordersite.settings"
        os.environ["LOG_LEVEL"] = "WARNING"  # this process only: not a line per order placed
        import django

        django.setup()
        _seed(stock=args.orders * 2)
        results = {"orders": args.orders, "broker": urlsplit(stack.env["CELERY_BROKER_URL"]).scheme}
        pks, started = _place(args.orders)
        results["one_host_orders_per_s"] = round(
            args.orders / _wait_done(pks, started, args.timeout), 1
        )

        host = SecondHost(stack.logs)
        host.forward([stack.env[key] for key in SERVICE_URLS])
        env = dict(stack.env) | {key: host.url(stack.env[key]) for key in SERVICE_URLS}
        logs = []
        for role, command in procfile().items():
            if role.startswith("worker_"):
                log = stack.logs / f"hostb-{role}.log"
                host.start(["bash", "-c", f"exec {rename_node(command, 'hostb')}"], env, log)
                logs.append(log)
        deadline = time.monotonic() + 60
        while not all("ready." in log.read_text() for log in logs):
            if time.monotonic() > deadline:
                raise RuntimeError("second host's workers did not start")
            time.sleep(0.2)
        before = _tasks_per_host()
        pks, started = _place(args.orders)
        results["two_hosts_orders_per_s"] = round(
            args.orders / _wait_done(pks, started, args.timeout), 1
        )
        after = _tasks_per_host()
        results["two_hosts_tasks_by_host"] = {name: after[name] - before[name] for name in after}
        return results
    finally:
        if host is not None:
            host.close()
        stack.stop()


def _runs(args: argparse.Namespace) -> list[dict]:
    """One run per --broker (each in a process of its own: Django and Celery read the broker once),
    or a single run on CELERY_BROKER_URL, else the bench's own Redis."""
    if not args.broker:
        return [bench(args)]
    runs = []
    for broker in args.broker:
        env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
        if broker != "redis":
            env["CELERY_BROKER_URL"] = broker
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            command = [
                sys.executable,
                __file__,
                "--orders",
                str(args.orders),
                "--timeout",
                str(args.timeout),
            ]
            subprocess.run([*command, "--json-to", out.name], env=env, check=True)
            runs.append(json.loads(Path(out.name).read_text()))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2000, help="orders per phase (default 2000)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--label", default="hosts")
    parser.add_argument(
        "--broker",
        action="append",
        help=(
            "`redis` (the bench's own) or a broker URL; "
            "repeat to measure several brokers in one run"
        ),
    )
    parser.add_argument("--json-to", help=argparse.SUPPRESS)  # one run's figures, for _runs()
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/hosts.py needs root: it creates a network namespace (ip netns)")
    args.roles = (
        "worker_orders",
        "worker_payments",
        "worker_inventory",
        "worker_shipping",
        "worker_notifications",
        "beat",
        "sandbox",
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.json_to:
        Path(args.json_to).write_text(json.dumps(bench(args)))
        return
    results = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "runs": _runs(args)}
    out = ROOT / "bench" / "results" / f"{args.label}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
