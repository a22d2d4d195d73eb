"""What a chaos run reports: each scenario's Result (what its orders became, what the audit found,
how long recovery took) and the run's summary, written as result.json."""

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from chaos_load import Placed
from chaos_scenarios import Profile, Run, Scenario
from chaos_stack import TIMINGS

if TYPE_CHECKING:
    from orders.invariants import Report


HELD_RULES = ("money.held_after_terminal", "stock.held_after_terminal")


@dataclass
class Result:
    scenario: str
    sent: int = 0
    accepted: int = 0
    completed: int = 0
    compensated: int = 0
    parked: int = 0
    lost: int = 0
    double_charges: int = 0
    held_after_terminal: int = 0
    breaches: int = 0
    recovery_s: float | None = None
    took_s: float = 0.0
    by_rule: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    http: dict[str, int] = field(default_factory=dict)
    readiness: dict[str, int] = field(default_factory=dict)
    cancels: dict[str, int] = field(default_factory=dict)
    staff: dict[str, int] = field(default_factory=dict)
    died: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    examples: list[dict] = field(default_factory=list)
    timelines: dict[str, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.double_charges or self.held_after_terminal or self.breaches)

    def line(self) -> str:
        recovery = f"{self.recovery_s:5.1f}s" if self.recovery_s is not None else "  never"
        text = (
            f"{self.scenario:20} sent {self.sent:4}  completed {self.completed:4}"
            f"  compensated {self.compensated:3}"
            f"  parked {self.parked:3}  lost {self.lost}  double charges {self.double_charges}"
            f"  held after terminal {self.held_after_terminal}  breaches {self.breaches:3}"
            f"  recovery {recovery}"
            f"  ({self.took_s:.0f} s)"
        )
        if self.by_rule:
            text += (
                "\n"
                + " " * 22
                + ", ".join(f"{rule} {n}" for rule, n in sorted(self.by_rule.items()))
            )
        if self.died:
            text += "\n" + " " * 22 + "died unasked (restarted): " + ", ".join(self.died)
        return text


def scenario_result(
    run: Run, scenario: Scenario, report: "Report", recovery: float | None
) -> Result:
    from django.db.models import Count

    from orders.models import Order
    from orders.states import TERMINAL, OrderStatus
    from ordersite.breakers import Breaker, BreakerName

    tally = run.customers.tally
    placed: list[Placed] = tally.placed
    accepted = {p.order_id for p in placed if p.order_id}
    statuses = dict(
        Order.objects.filter(created_at__gte=run.since)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    present = set(
        map(str, Order.objects.filter(public_id__in=accepted).values_list("public_id", flat=True))
    )
    counts = report.counts()
    extra = Counter()
    extra["api.lost_order"] = len(accepted - present)
    extra["idempotency.duplicate_order"] = sum(1 for p in placed if p.other_ids)
    # A 5xx for a request that did place its order (a retry with its key got the same order back):
    # the client was told it failed when it had worked.
    if not scenario.commit_may_be_unknown:
        extra["api.error_after_commit"] = sum(
            1 for p in placed if p.replayed and any(a >= 500 for a in p.answers)
        )
    waiting = sum(n for s, n in statuses.items() if s not in TERMINAL) - counts.get(
        "state.stuck", 0
    )
    if not scenario.parked_ok:
        extra["parked.without_outage"] = waiting  # nothing was down long enough to park an order
    opened = {name: Breaker(name).snapshot().times_opened for name in BreakerName}
    run.notes.append("breakers opened: " + ", ".join(f"{name} {n}x" for name, n in opened.items()))
    if scenario.breakers_closed:
        extra["breaker.opened_without_outage"] = sum(opened.values())
    by_rule = {**counts, **{rule: n for rule, n in extra.items() if n}}
    held = {b.order_id for b in report.breaches if b.rule in HELD_RULES}
    ended_unfinished = (OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED, OrderStatus.FAILED)
    return Result(
        scenario=run.scenario,
        sent=len(placed),
        accepted=len(accepted),
        completed=statuses.get(OrderStatus.COMPLETED, 0),
        compensated=sum(statuses.get(s, 0) for s in ended_unfinished),
        parked=waiting,
        lost=counts.get("state.stuck", 0) + extra["api.lost_order"],
        double_charges=counts.get("money.double_charge", 0) + extra["idempotency.duplicate_order"],
        held_after_terminal=len(held),
        breaches=sum(by_rule.values()),
        recovery_s=None if recovery is None else round(recovery, 1),
        took_s=round(time.monotonic() - run.started, 1),
        by_rule=by_rule,
        statuses=statuses,
        http={str(k): v for k, v in sorted(tally.answers.items())},
        readiness={str(k): v for k, v in sorted(tally.readiness.items())},
        cancels={str(k): v for k, v in sorted(tally.cancels.items())},
        staff=dict(tally.staff),
        notes=run.notes,
        examples=_examples(report),
        timelines=_timelines(report),
    )


def _examples(report: "Report", per_rule: int = 5) -> list[dict]:
    seen: Counter = Counter()
    examples = []
    for breach in report.breaches:
        seen[breach.rule] += 1
        if seen[breach.rule] <= per_rule:
            examples.append(asdict(breach))
    return examples


def _timelines(report: "Report", limit: int = 5) -> dict[str, list[str]]:
    """The full timelines (as staff see them) of a few orders behind breaches, for diagnosis."""
    from orders.models import OrderEvent

    orders = []
    for breach in report.breaches:
        if (
            breach.order_id
            and breach.rule != "timeline.customer_internals"
            and breach.order_id not in orders
        ):
            orders.append(breach.order_id)
    timelines: dict[str, list[str]] = {}
    events = (
        OrderEvent.objects.filter(order__public_id__in=orders[:limit])
        .select_related("order")
        .order_by("seq")
    )
    for event in events:
        timelines.setdefault(str(event.order.public_id), []).append(
            f"{event.created_at:%H:%M:%S.%f} #{event.seq} {event.kind} -> "
            f"{event.status} {event.actor} "
            f"{json.dumps(event.data, default=str)[:300]}"
        )
    return timelines


def run_summary(
    args: argparse.Namespace, profile: Profile, results: list[Result], total: float
) -> dict:
    return {
        "command": " ".join(["python bench/chaos.py", *sys.argv[1:]]),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
        },
        "profile": asdict(profile),
        "timings": TIMINGS,
        "settings": args.set,
        "total_s": round(total, 1),
        "scenarios": {r.scenario: {**asdict(r), "clean": r.clean} for r in results},
    }
