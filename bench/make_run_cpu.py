"""CPU per order of a running `make run`, by process, its log relay (honcho) included.

`make bench` starts make run's processes itself, each writing its log straight to a file, so it
does not see what `make run` adds: honcho (inside bin/run-procfile), which reads every line the
processes print and relays it to the terminal. This measures `make run` as a user runs it.
Start `make run`, then:

    .venv/bin/python bench/make_run_cpu.py --rate 20 --seconds 60 --runs 3

It seeds make run's database as the bench seeds its own (customers bench-0 … bench-199 with
tokens and email addresses, the demo products' stock topped up), sends orders open-loop at
--rate to 127.0.0.1:--port, waits until every order ended and the queues are quiet, and prints
the CPU ms per completed order of every process of that `make run` (found under its honcho), of
the local PostgreSQL and of Redis. Those two are shared: run it on an otherwise quiet machine.
Medians over --runs go to bench/results/bench-make-run.json.
"""

import argparse
import json
import os
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    postmaster_pid,
    proc_stat,
    process_tree,
    tree_cpu,
    wait_orders_ended,
    wait_quiet,
)
from bench.loadgen import Client, open_loop, percentile  # noqa: E402

if TYPE_CHECKING:
    from bench.workload import Workload

ROLES = (  # the first pattern a process's command line contains names its role
    ("bin/run-procfile", "honcho (log relay)"),  # honcho runs inside it (bin/run-procfile)
    ("honcho", "honcho (log relay)"),  # `honcho start` run by hand, and its relay processes
    ("gunicorn", "web"),
    ("uvicorn", "live"),
    ("worker -Q ", "worker {queue}"),
    (" beat", "beat"),
    (" flower", "flower"),
    ("run_sandboxes", "sandboxes"),
)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _role(cmdline: str) -> str | None:
    for pattern, role in ROLES:
        if pattern in cmdline:
            if "{queue}" in role:
                return role.format(queue=cmdline.split("worker -Q ", 1)[1].split()[0])
            return role
    return None  # a shell honcho starts each line with: its CPU is its child's business


def _is_manager(cmdline: str) -> bool:
    return "bin/run-procfile" in cmdline or ("honcho" in cmdline and " start" in cmdline)


def _make_run_root() -> int:
    """The process manager started from this checkout (its working directory is the project's):
    `make run`'s bin/run-procfile, or a `honcho start`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not _is_manager(_cmdline(int(entry))):
            continue
        try:
            if Path(f"/proc/{entry}/cwd").resolve() != ROOT:
                continue
        except OSError:
            continue
        stat = proc_stat(int(entry))
        if stat and not _is_manager(_cmdline(stat[0])):  # the topmost, not one of its relays
            return int(entry)
    raise SystemExit("no `make run` of this checkout is running: start it first")


def _redis_pid(port: int) -> int | None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            cmdline = _cmdline(int(entry))
            if cmdline.startswith(("redis-server", "/usr/bin/redis-server")) and f":{port}" in (
                cmdline
            ):
                return int(entry)
    return None


def cpu_by_role(root: int, redis_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of every process under `root`, each counted by itself (its own time
    and its reaped children's), summed by role; PostgreSQL and Redis whole."""
    tree = process_tree()
    totals: dict[str, float] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, []))
        role, stat = _role(_cmdline(pid)), proc_stat(pid)
        if role and stat:
            totals[role] = totals.get(role, 0.0) + stat[1]
    totals["postgres"] = tree_cpu(postmaster_pid(), tree)
    if redis_pid:
        totals["redis"] = tree_cpu(redis_pid, tree)
    return totals


def measure(
    args: argparse.Namespace, workload: "Workload", root: int, redis_pid: int | None, broker: Any
) -> dict:
    from orders.models import Order  # Django is set up by main()

    wait_quiet(broker, args.drain_seconds)
    before = cpu_by_role(root, redis_pid)
    samples = open_loop(args.rate, args.seconds, workload.order)
    ids = [s.order_id for s in samples if s.status == 201]
    wait_orders_ended(ids, args.drain_seconds)
    wait_quiet(broker, args.drain_seconds)
    after = cpu_by_role(root, redis_pid)
    completed = Order.objects.filter(public_id__in=ids, status="completed").count()
    n = max(completed, 1)
    by_role = {
        role: round((after[role] - before.get(role, 0.0)) * 1000 / n, 2)
        for role in sorted(after, key=lambda r: before.get(r, 0.0) - after[r])
    }
    api = [(s.done - s.intended) * 1000 for s in samples]
    return {
        "offered_per_s": args.rate,
        "accepted": len(ids),
        "completed": completed,
        "errors": sum(s.status != 201 for s in samples),
        "api_ms": {"p50": round(percentile(api, 0.5), 1), "p95": round(percentile(api, 0.95), 1)},
        "cpu_ms_per_order": round(sum(by_role.values()), 2),
        "cpu_ms_by_role": by_role,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="make run's web port")
    parser.add_argument("--rate", type=float, default=20, help="orders per second, open loop")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drain-seconds", type=float, default=60)
    parser.add_argument("--label", default="bench-make-run")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
    import django

    django.setup()
    from django.conf import settings

    from bench.workload import Workload
    from ordersite.redis import client as redis_client

    root = _make_run_root()
    redis_port = int(settings.CELERY_BROKER_URL.rsplit(":", 1)[1].split("/")[0])
    broker = redis_client(settings.CELERY_BROKER_URL, decode_responses=False)
    workload = Workload(Client(args.port), hot=False)
    runs = []
    for n in range(args.runs):
        run = measure(args, workload, root, _redis_pid(redis_port), broker)
        print(f"run {n + 1}/{args.runs}: " + json.dumps(run), flush=True)
        runs.append(run)
    roles = runs[0]["cpu_ms_by_role"]
    summary = {
        "cpu_ms_per_order": statistics.median(r["cpu_ms_per_order"] for r in runs),
        "cpu_ms_by_role": {
            role: statistics.median(r["cpu_ms_by_role"].get(role, 0.0) for r in runs)
            for role in roles
        },
        "api_p95_ms": statistics.median(r["api_ms"]["p95"] for r in runs),
    }
    print(f"\nmedians of {args.runs} run(s) at {args.rate}/s:")
    print(f"  {'all':<22} {summary['cpu_ms_per_order']:7.2f} ms per order")
    for role, value in summary["cpu_ms_by_role"].items():
        print(f"  {role:<22} {value:7.2f}")
    result = {
        "label": args.label,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "args": vars(args),
        "summary": summary,
        "runs": runs,
    }
    out = ROOT / "bench" / "results" / f"{args.label}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"(JSON: {out.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
