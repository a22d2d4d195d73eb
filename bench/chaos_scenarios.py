"""The scenarios of a chaos run: the profile of a run, the fault each scenario injects and the
actors that run alongside the load (cancelling customers, staff at the DLQ, a readiness probe).

Every fault acts only on what bench/chaos_stack.py started (by PID) or on the sandboxes' fault
settings, and ends by itself: a store comes back, a sandbox is reset, a killed worker restarts.
"""

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chaos_load import Customers, Staff
from chaos_processes import children_of, wait_until
from chaos_stack import QUEUES, TIMINGS, Stack


@dataclass(frozen=True)
class Profile:
    seconds: float  # of load
    rate: float  # orders per second
    max_orders: int
    fault_s: float  # how long an outage lasts
    burst_s: float  # how long the burst lasts (at 10x)
    kills: int  # kill -9s of kill-workers
    settle_s: float  # longest wait for everything to settle after the load and the fault


PROFILES = {
    "short": Profile(seconds=6, rate=5, max_orders=300, fault_s=8, burst_s=2, kills=3, settle_s=25),
    "long": Profile(
        seconds=60, rate=8, max_orders=5000, fault_s=20, burst_s=10, kills=10, settle_s=120
    ),
}

DLQ_EXTRA_S = 6  # dlq-staff's outage outlasts the load by the retries' length


class Run:
    """One scenario's run: the stack, the clients, the fault's window, the orders placed."""

    def __init__(
        self,
        stack: Stack,
        profile: Profile,
        scenario: str,
        customers: Customers,
        *,
        seed: int,
        since: datetime,
    ) -> None:
        self.stack, self.profile, self.scenario, self.customers = (
            stack,
            profile,
            scenario,
            customers,
        )
        self.since = since  # the audit looks at orders created from here on
        self.rng = random.Random(seed)
        self.started = time.monotonic()
        self.fault_start: float | None = None
        self.fault_end: float | None = None
        self.load_end: float | None = None
        self.notes: list[str] = []
        self.placed = 0

    def at(self, offset: float) -> None:
        """Sleep until `offset` seconds after the load started."""
        time.sleep(max(0.0, self.started + offset - time.monotonic()))

    def fault(self, start: bool) -> None:
        now = time.monotonic()
        if start:
            self.fault_start = now
        else:
            self.fault_end = now
        self.notes.append(f"{'fault' if start else 'cleared'} at {now - self.started:.1f} s")

    def order_ids(self) -> set[str]:
        with self.customers.tally.lock:
            return {p.order_id for p in self.customers.tally.placed if p.order_id}

    def load_over(self) -> bool:
        return self.load_end is not None


# --- scenarios ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    summary: str
    fault: Callable[[Run], None] | None = None
    token: Callable[[int], str] | None = None  # the card of the n-th order
    burst: bool = False
    copies: int = 1
    actor: Callable[[Run], None] | None = None  # runs alongside the load (cancels, staff)
    parked_ok: bool = True  # a dependency was down for longer than the retries: parking is right
    breakers_closed: bool = False  # nothing was down: no breaker has a reason to open
    # The database died mid-request: a commit's outcome can be unknown to the server, so a 5xx
    # for an order that did commit is the honest answer (the client's key settles it).
    commit_may_be_unknown: bool = False


def _kill_workers(run: Run) -> None:
    p = run.profile
    run.fault(True)
    for n in range(p.kills):
        run.at((n + 1) * p.seconds / (p.kills + 1))
        name = f"worker-{run.rng.choice(QUEUES)}"
        process = run.stack.processes[name]
        pool = children_of(process.pid) if process.alive() else []
        if pool and run.rng.random() < 0.5:
            victim = run.rng.choice(pool)
            os.kill(victim, signal.SIGKILL)  # a pool process we started (forked by our worker)
            run.notes.append(f"kill -9 {name} pool process {victim}")
        else:
            process.kill_tree()
            run.notes.append(f"kill -9 {name} (pid {process.pid}) and its pool; started again")
            run.stack.restart(name)
    wait_until(run.stack.workers_ready, "workers after the kills", timeout=60, interval=0.5)
    run.fault(False)


def _restart_store(name: str) -> Callable[[Run], None]:
    def fault(run: Run) -> None:
        run.at(run.profile.seconds / 3)
        run.fault(True)
        run.stack.crash_store(name)
        time.sleep(min(2.0, run.profile.fault_s))
        run.stack.restart(name)
        run.fault(False)

    return fault


def _sandbox_fault(*names: str, **faults: object) -> Callable[[Run], None]:
    def fault(run: Run) -> None:
        from sandboxes.faults import reset_faults, set_faults

        run.at(run.profile.seconds / 4)
        run.fault(True)
        for name in names:
            set_faults(name, **faults)
        time.sleep(run.profile.fault_s)
        for name in names:
            reset_faults(name)
        run.fault(False)

    return fault


def _dlq_outage(run: Run) -> None:
    """Payments fail (503) until every order placed meanwhile has run out of retries (the
    retries take up to ~6 s here) and sits in the DLQ."""
    from sandboxes.faults import reset_faults, set_faults

    run.at(run.profile.seconds / 4)
    run.fault(True)
    set_faults("payments", error_rate=1.0)
    time.sleep(run.profile.fault_s + DLQ_EXTRA_S)
    reset_faults("payments")
    run.fault(False)


def _slow_gateways(run: Run) -> None:
    """Every gateway answers 200-500 ms late while the load runs: steps take long enough for
    cancels to land in the middle of them."""
    from sandboxes.faults import SANDBOXES, reset_faults, set_faults

    run.fault(True)
    for name in SANDBOXES:
        set_faults(name, latency_ms=200, jitter_ms=300, seed=7)
    run.at(run.profile.seconds)
    reset_faults()
    run.fault(False)


def _cancels(share: float) -> Callable[[Run], None]:
    """Cancel `share` of the orders 0 to 1.5 s after they were accepted (while their steps run);
    a few twice at once."""

    def actor(run: Run) -> None:
        _cancel(run, share)

    return actor


def _cancel(run: Run, share: float) -> None:
    seen: set[str] = set()
    timers: list[threading.Timer] = []
    while not run.load_over():
        for order_id in run.order_ids() - seen:
            seen.add(order_id)
            if run.rng.random() < share:
                copies = 2 if run.rng.random() < 0.2 else 1
                for _ in range(copies):
                    timers.append(
                        threading.Timer(run.rng.uniform(0, 1.5), run.customers.cancel, (order_id,))
                    )
                    timers[-1].start()
        time.sleep(0.05)
    for timer in timers:
        timer.join()


def probe_readiness(run: Run) -> None:
    """What a load balancer does: GET /api/v1/health/ready every second while the load runs."""
    while not run.load_over():
        run.customers.probe_readiness()
        time.sleep(1)


def _staff(run: Run) -> None:
    staff = Staff(
        run.stack.base_url, run.stack.staff_token, run.customers.tally, seed=run.rng.random()
    )
    try:
        until_s = run.profile.seconds / 4 + run.profile.fault_s + DLQ_EXTRA_S + 6
        staff.work(
            run.order_ids,
            lambda: time.monotonic() - run.started > until_s,
            replay_share=0.5,
            after_s=int(TIMINGS["PIPELINE_STUCK_AFTER_SECONDS"]) + 1,
        )
    finally:
        staff.close()


SCENARIOS: dict[str, Scenario] = {
    "kill-workers": Scenario(
        "kill -9 a random worker's pool process or the worker itself, N times",
        _kill_workers,
        parked_ok=False,
    ),
    "redis-restart": Scenario(
        "crash our Redis (nothing on disk: queues, DLQ, breakers gone), start it again; customers "
        "cancel 30 % of the orders meanwhile, so compensations are in flight",
        _restart_store("redis"),
        actor=_cancels(0.3),
        parked_ok=False,
    ),
    "postgres-restart": Scenario(
        "crash PostgreSQL (immediate shutdown), start it again",
        _restart_store("postgres"),
        parked_ok=False,
        commit_may_be_unknown=True,
    ),
    "payments-down": Scenario(
        "the payment sandbox refuses connections for the fault time",
        _sandbox_fault("payments", down=True),
    ),
    "carriers-down": Scenario(
        "both carriers refuse connections for the fault time",
        _sandbox_fault("carrier_primary", "carrier_fallback", down=True),
    ),
    "primary-timeout": Scenario(
        "the primary carrier books each parcel but answers after the client's timeout",
        _sandbox_fault("carrier_primary", timeout_rate=1.0),
        parked_ok=False,
    ),
    "burst": Scenario("10x the rate for the burst time", burst=True, parked_ok=False),
    "flaky-card": Scenario(
        "3 cards in 5 are tok_processing_error (503 twice, then approved); nothing is down",
        token=lambda n: "tok_processing_error" if n % 5 < 3 else "tok_visa",
        parked_ok=False,
        breakers_closed=True,
    ),
    "idempotency-retries": Scenario(
        "every order is sent 3 times at once with one Idempotency-Key", copies=3, parked_ok=False
    ),
    "cancel-storm": Scenario(
        "customers cancel 40 % of the orders while their steps run "
        "(gateways answer 200-500 ms late)",
        _slow_gateways,
        actor=_cancels(0.4),
        parked_ok=False,
    ),
    "dlq-staff": Scenario(
        "payments fail (503) until the steps are dead-lettered; staff replay half and discard half "
        "through /api/v1/dlq/, now and then two of them on one entry at once",
        _dlq_outage,
        actor=_staff,
    ),
}
