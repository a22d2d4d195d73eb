"""Chaos runs: the whole system under steady load while one fault is injected, then the invariant
audit (orders/invariants/) over what it did. One line per scenario:

    python bench/chaos.py --all --short            # every scenario, a few dozen orders each
    python bench/chaos.py kill-workers redis-restart --seconds 60 --rate 8

It starts everything it needs and stops it by PID at the end (see bench/chaos_stack.py): its own
Redis and PostgreSQL, gunicorn, the sandboxes, a worker per queue and beat. Clients place orders
over the HTTP API (bench/chaos_load.py) for `--seconds` (or `--orders`) at `--rate` per second,
the scenario injects its fault, the run waits (bounded) until every order is settled, and
`check_invariants` judges. A JSON result goes under bench/results/. Exits 1 if any scenario lost
an order, charged twice, held anything after a terminal state or breached an invariant.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaos_load import Customers  # noqa: E402
from chaos_result import Result, run_summary, scenario_result  # noqa: E402
from chaos_scenarios import PROFILES, SCENARIOS, Profile, Run, Scenario, probe_readiness  # noqa: E402
from chaos_stack import TIMINGS, Stack  # noqa: E402

if TYPE_CHECKING:
    from orders.invariants import Report


QUIET_S = 3 * int(TIMINGS["PIPELINE_STUCK_AFTER_SECONDS"]) + 3  # no new event this long: it is over


# --- one scenario -------------------------------------------------------------------------------
def _token(run: Run, scenario: Scenario) -> str:
    run.placed += 1
    if scenario.token is not None:
        return scenario.token(run.placed)
    return "tok_declined" if run.rng.random() < 0.05 else "tok_visa"


def run_scenario(stack: Stack, profile: Profile, name: str, seed: int) -> Result:
    from django.utils import timezone

    from ordersite.breakers import Breaker, BreakerName
    from sandboxes.faults import reset_faults

    scenario = SCENARIOS[name]
    reset_faults()  # a run starts from a healthy world, whatever the one before left
    for breaker in BreakerName:
        Breaker(breaker).reset()
    prefix = (
        f"chaos{seed}-{name}"  # a catalog of this run's own: the audit's stock rules see only it
    )
    catalog = _catalog(prefix)
    since = timezone.now()
    customers = Customers(
        stack.base_url, stack.customer_token, catalog, seed=seed, hot=f"{prefix}-hot"
    )
    run = Run(stack, profile, name, customers, seed=seed, since=since)
    actors = (scenario.fault, scenario.actor, probe_readiness)
    threads = [threading.Thread(target=f, args=(run,), name=name, daemon=True) for f in actors if f]
    for thread in threads:
        thread.start()

    def rate(t: float) -> float:
        start = profile.seconds / 3
        return profile.rate * (10 if scenario.burst and start <= t < start + profile.burst_s else 1)

    try:
        customers.run(
            seconds=profile.seconds,
            max_orders=profile.max_orders,
            rate=rate,
            token=lambda: _token(run, scenario),
            copies=scenario.copies,
        )
    finally:
        run.load_end = time.monotonic()
        for thread in threads:
            thread.join()
        customers.close()
    if scenario.burst:
        run.fault_start = run.started + profile.seconds / 3
        run.fault_end = run.fault_start + profile.burst_s
    report, recovery = _settle(run)
    return scenario_result(run, scenario, report, recovery)


def _catalog(prefix: str) -> dict[str, int]:
    """Products of this scenario only, with stock to spare, and one hot product."""
    from inventory.services import create_product

    catalog = {}
    for n in range(1, 13):
        sku = f"{prefix}-{n}"
        create_product(sku=sku, name=f"Chaos {n}", price_cents=300 + 100 * n, on_hand=1_000_000)
        catalog[sku] = 300 + 100 * n
    create_product(sku=f"{prefix}-hot", name="Hot", price_cents=999, on_hand=1_000_000)
    catalog[f"{prefix}-hot"] = 999
    return catalog


def _settle(run: Run) -> tuple["Report", float | None]:
    """Audit every second until nothing is unsettled (every order terminal or parked, nothing held
    or unrecorded), until nothing has moved for QUIET_S, or until the profile's bound."""
    from django.db import close_old_connections

    from orders.invariants import SETTLING_RULES, check_invariants

    quiet_since = ended = max(run.fault_end or 0.0, run.load_end or 0.0)
    deadline, fingerprint, report = ended + run.profile.settle_s, None, None
    while True:
        try:
            report = check_invariants(since=run.since, window_s=0)
        except Exception as exc:  # noqa: BLE001  (a store still coming back: audit again)
            close_old_connections()
            run.notes.append(f"audit failed once: {type(exc).__name__}")
            time.sleep(1)
            continue
        now = time.monotonic()
        if not [b for b in report.breaches if b.rule in SETTLING_RULES]:
            return report, now - ended
        now_fingerprint = (report.counts(), _activity(run.since))
        if now_fingerprint != fingerprint:
            fingerprint, quiet_since = now_fingerprint, now
        if now > deadline or now - quiet_since > QUIET_S:
            why = (
                f"nothing moved for {QUIET_S} s"
                if now <= deadline
                else f"{run.profile.settle_s:.0f} s bound reached"
            )
            run.notes.append(f"not settled: {why}")
            return report, None
        time.sleep(1)


def _activity(since: datetime) -> tuple:
    """What changes while the pipeline still works on these orders: their newest event."""
    from django.db.models import Max

    from orders.models import OrderEvent

    return OrderEvent.objects.filter(order__created_at__gte=since).aggregate(at=Max("created_at"))[
        "at"
    ]


# --- the command --------------------------------------------------------------------------------
def _seed(stack: Stack) -> None:
    """A customer and a staff member (a superuser: may work the DLQ), each with an API token."""
    import secrets

    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    users = get_user_model().objects
    customer = users.create_user("chaos-customer")
    staff = users.create_superuser("chaos-staff", password=secrets.token_urlsafe(16))
    stack.customer_token = Token.objects.create(user=customer).key
    stack.staff_token = Token.objects.create(user=staff).key


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="\n".join(
            f"{name}: {scenario.summary}".replace("%", "%%") for name, scenario in SCENARIOS.items()
        ),
    )
    parser.add_argument("--all", action="store_true", help="every scenario, in the order above")
    parser.add_argument(
        "--short", action="store_true", help="the short profile (seconds per scenario, as CI runs)"
    )
    parser.add_argument("--orders", type=int, help="at most this many orders per scenario")
    parser.add_argument("--seconds", type=float, help="seconds of load per scenario")
    parser.add_argument("--rate", type=float, help="orders per second")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the scenarios this many times (soak)"
    )
    parser.add_argument(
        "--ports", help="take the ports from this range, e.g. 8600-8699 (default: any free)"
    )
    parser.add_argument(
        "--json-out", type=Path, help="where to write the JSON result (default: bench/results/)"
    )
    parser.add_argument("--logs", type=Path, help="copy every process's log here at the end")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=(
            "a setting for every process of the run (after the short timings), "
            "e.g. CELERY_DB_REUSE_MAX=0"
        ),
    )
    args = parser.parse_args(argv)
    args.scenarios = (list(SCENARIOS) if args.all else args.scenarios) * max(1, args.repeat)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if not args.scenarios or unknown:
        parser.error(
            f"name scenarios among {', '.join(SCENARIOS)}, or --all"
            + (f" (not {unknown})" if unknown else "")
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    base = PROFILES["short" if args.short else "long"]
    profile = Profile(
        **{
            **asdict(base),
            **{
                k: v
                for k, v in (
                    ("seconds", args.seconds),
                    ("rate", args.rate),
                    ("max_orders", args.orders),
                )
                if v
            },
        }
    )
    stack = Stack(ports=args.ports, logs=args.logs)
    stack.env.update(dict(item.split("=", 1) for item in args.set))
    os.environ.update(stack.env)
    import django

    django.setup()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop what we started, then go
    started, results = time.monotonic(), []
    try:
        stack.up(log=print)
        _seed(stack)
        stack.wait_app()
        print(
            f"stack ready in {time.monotonic() - started:.1f} s; profile {asdict(profile)}",
            flush=True,
        )
        for n, name in enumerate(args.scenarios):
            died = stack.check_processes()
            result = run_scenario(stack, profile, name, seed=args.seed + n)
            result.died = died + stack.check_processes()
            if args.repeat > 1:  # one key per run in the JSON
                result.scenario = f"{name}#{n // (len(args.scenarios) // args.repeat) + 1}"
            results.append(result)
            print(result.line(), flush=True)
            if result.lost and n + 1 < len(args.scenarios):
                # Whatever wedged this run's orders must not wedge the next scenario's too.
                restarted = time.monotonic()
                stack.restart_app()
                print(
                    f"{'':22}(application restarted for the next scenario "
                    f"in {time.monotonic() - restarted:.0f} s)"
                )
    finally:
        stack.down()
        total = time.monotonic() - started
        out = (
            args.json_out
            or ROOT / "bench" / "results" / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(run_summary(args, profile, results, total), indent=2, default=str)
        )
        print(f"{len(results)} scenario(s) in {total:.0f} s; result: {out}")
    return 0 if results and all(r.clean for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
