"""The audit's frame: its rules, its report, what it reads about orders and the DLQ, and the
rules on order states, dead letters and event numbering."""

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Max, Min, Q, QuerySet

from deadletters import store as dlq

from ..models import Order, OrderEvent
from ..states import FULFILLED, TERMINAL, EventKind, OrderStatus
from ..steps import REFUND_PAYMENT, REFUND_RETURN

# Every rule the audit knows, with what it promises (the report and README use these words).
RULES: dict[str, str] = {
    "state.stuck": "every order is terminal, waiting with a visible reason (pending_shipment, or "
    "parked in the DLQ with a live entry), or still moving within the window",
    "money.unbalanced": "a payment that ended has captured + voided + refunded = authorized",
    "money.completed_not_captured_once": "a completed order's payment was captured in full, "
    "exactly once (after a refund: captured = refunded + kept)",
    "money.refund_mismatch": "what an order shows refunded is its payment's refunded cents, the "
    "sum of its succeeded refunds, here and at the gateway; cents promised to refunds are those of "
    "its pending ones; its status says whether any, part or all of the capture went back",
    "money.held_after_terminal": "a cancelled or failed order holds no authorization and no "
    "captured money",
    "money.double_charge": "no order was charged more than once, nor more than its total, at the "
    "gateway",
    "ledger.unreachable": "the gateways' ledgers can be read",
    "ledger.unknown": "the payment gateway holds no authorization that our books do not know",
    "ledger.duplicate": "the payment gateway holds one authorization per order",
    "ledger.missing": "every authorization in our books exists at the payment gateway",
    "ledger.mismatch": "the payment gateway's amounts and statuses are ours",
    "stock.reserved_mismatch": "a product's reserved count is the sum of its held reservations",
    "stock.oversold": "nothing negative, nothing oversold: on_hand >= reserved >= 0",
    "stock.held_after_terminal": "a finished order holds no reservation",
    "stock.committed_mismatch": "committed reservations are exactly what shipped",
    "shipping.live_booking": "no parcel is live at a carrier (or in our books) for an order not "
    "shipped through it",
    "shipping.booking_missing": "every shipped order has its parcel live at its carrier",
    "dlq.duplicate_entry": "at most one live DLQ entry per order and step",
    "dlq.entry_for_completed": "no live DLQ entry of a pipeline step for a completed order (a "
    "refund's may wait)",
    "timeline.seq_gap": "an order's events are numbered 1..n without gaps",
    "timeline.customer_internals": "the customer's timeline shows no URLs, exception names, "
    "'Error:', DLQ entry ids, gateway references or staff usernames",
}
# Rules a step in flight may break for a moment: not breaches while the order is still moving.
# Order statuses the books, stock and parcel rules group by.
FINISHED_UNCOMPLETED = TERMINAL - FULFILLED
SHIPPED = frozenset({OrderStatus.SHIPPED}) | FULFILLED

SETTLING_RULES = frozenset(
    {
        "state.stuck",
        "money.held_after_terminal",
        "ledger.unknown",
        "ledger.mismatch",
        "stock.held_after_terminal",
        "shipping.live_booking",
        "money.refund_mismatch",
    }
)
WAITING = frozenset({OrderStatus.PENDING_SHIPMENT})


@dataclass(frozen=True)
class Breach:
    rule: str
    detail: str
    order_id: str | None = None  # the order's public id
    product: str | None = None  # a product's sku, for the stock rules

    @property
    def subject(self) -> str:
        if self.order_id:
            return f"order {self.order_id}"
        return f"product {self.product}" if self.product else "-"


@dataclass
class Report:
    breaches: list[Breach] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches

    def counts(self) -> dict[str, int]:
        return dict(Counter(b.rule for b in self.breaches))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "counts": self.counts(),
            "skipped": self.skipped,
            "breaches": [asdict(b) for b in self.breaches],
        }

    def text(self, *, limit: int = 50) -> str:
        """A report for people: what was checked, then each breached rule with its first cases."""
        checked = ", ".join(f"{n} {what}" for what, n in self.checked.items())
        lines = [f"checked {checked}"]
        lines += [f"skipped: {why}" for why in self.skipped]
        if self.ok:
            return "\n".join([*lines, "no breach"])
        lines.append(f"{len(self.breaches)} breach(es):")
        for rule, n in sorted(self.counts().items()):
            lines.append(f"  {rule} ({n}): {RULES[rule]}")
            for breach in [b for b in self.breaches if b.rule == rule][:limit]:
                lines.append(f"    {breach.subject}: {breach.detail}")
            if n > limit:
                lines.append(f"    ... and {n - limit} more")
        return "\n".join(lines)


@dataclass(slots=True)
class OrderRow:
    pk: int
    public_id: str
    status: str
    total_cents: int
    dead_lettered_at: datetime | None
    updated_at: datetime
    last_event_seq: int
    refunded_cents: int


class Audit:
    """One run of the audit: what it read, and the breaches it found (see check_invariants)."""

    def __init__(self, *, since: datetime | None, window_s: float, now: datetime) -> None:
        self.since, self.window_s, self.now = since, window_s, now
        self.scope: QuerySet[Order] = (
            Order.objects.all() if since is None else Order.objects.filter(created_at__gte=since)
        )
        self.scope_pks = self.scope.values("pk")
        fields = (
            "pk",
            "public_id",
            "status",
            "total_cents",
            "dead_lettered_at",
            "updated_at",
            "last_event_seq",
            "refunded_cents",
        )
        self.orders: dict[int, OrderRow] = {
            row[0]: OrderRow(row[0], str(row[1]), *row[2:])
            for row in self.scope.order_by().values_list(*fields)
        }
        self.by_public_id: dict[str, int] = {o.public_id: pk for pk, o in self.orders.items()}
        self.found: list[Breach] = []
        self.report = Report(checked={"orders": len(self.orders)})
        live = dlq.entries() + dlq.in_replay()
        self.live_entries = [
            entry for entry in live if not entry.malformed and entry.order_id in self.by_public_id
        ]
        self.parked = {entry.order_id for entry in self.live_entries}
        self.report.checked["live DLQ entries"] = len(self.live_entries)

    def flag(
        self, rule: str, detail: str, *, order: OrderRow | None = None, product: str | None = None
    ) -> None:
        self.found.append(
            Breach(
                rule=rule,
                detail=detail,
                order_id=order.public_id if order else None,
                product=product,
            )
        )

    def is_parked(self, order: OrderRow) -> bool:
        """Waiting in the DLQ for staff: flagged on the order, and its entry is live."""
        return order.dead_lettered_at is not None and order.public_id in self.parked

    def check_states(self) -> None:
        for order in self.orders.values():
            if order.status in TERMINAL or order.status in WAITING or self.is_parked(order):
                continue
            why = " (marked dead-lettered, but no live DLQ entry)" if order.dead_lettered_at else ""
            self.flag(
                "state.stuck",
                f"{order.status} since {order.updated_at:%Y-%m-%d %H:%M:%S}{why}",
                order=order,
            )

    def check_dead_letters(self) -> None:
        per_step = Counter((entry.order_id, entry.task) for entry in self.live_entries)
        for (public_id, task), n in sorted(per_step.items()):
            order = self.orders[self.by_public_id[public_id]]
            if n > 1:
                self.flag("dlq.duplicate_entry", f"{n} live entries for {task}", order=order)
            if order.status in FULFILLED and task not in (REFUND_PAYMENT, REFUND_RETURN):
                self.flag("dlq.entry_for_completed", f"a live entry for {task}", order=order)

    def check_sequences(self) -> None:
        """One grouped query: orders whose events are not exactly 1..last_event_seq."""
        gaps = (
            self.scope.order_by()
            .annotate(n=Count("events"), lo=Min("events__seq"), hi=Max("events__seq"))
            .filter(Q(hi__isnull=True) | ~Q(lo=1) | ~Q(hi=F("n")) | ~Q(n=F("last_event_seq")))
            .values_list("pk", "n", "lo", "hi", "last_event_seq")
        )
        for pk, n, lo, hi, last in gaps:
            detail = f"{n} events numbered {lo}..{hi}, the order counts {last}"
            self.flag("timeline.seq_gap", detail, order=self.orders[pk])

    def captured_events(self) -> dict[int, int]:
        """payment_captured events per completed order, refunded or not (one grouped query)."""
        rows = (
            OrderEvent.objects.filter(order__in=self.scope.filter(status__in=FULFILLED))
            .filter(kind=EventKind.PAYMENT_CAPTURED)
            .order_by()
            .values_list("order_id")
            .annotate(n=Count("id"))
        )
        return dict(rows)

    def drop_settling(self) -> list[Breach]:
        """Forgive the settling rules for orders that changed, or logged an event, within the
        window: one grouped query over just those orders."""
        if self.window_s <= 0:
            return self.found
        candidates = {
            self.by_public_id[b.order_id]
            for b in self.found
            if b.rule in SETTLING_RULES and b.order_id
        }
        if not candidates:
            return self.found
        cutoff = self.now - timedelta(seconds=self.window_s)
        moving = {pk for pk in candidates if self.orders[pk].updated_at >= cutoff}
        recent = (
            OrderEvent.objects.filter(order_id__in=candidates - moving, created_at__gte=cutoff)
            .values_list("order_id", flat=True)
            .distinct()
        )
        moving |= set(recent)
        still = {self.orders[pk].public_id for pk in moving}
        return [b for b in self.found if not (b.rule in SETTLING_RULES and b.order_id in still)]
