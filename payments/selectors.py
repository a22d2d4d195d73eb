"""Read queries on payments."""

from typing import Any

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from ordersite.compiled import CompiledRead

from .gateways import LedgerEntry, payment_ledger
from .models import Payment, PaymentStatus, Refund, RefundStatus

_PAYMENT_OF_ORDER = CompiledRead(lambda pk: Payment.objects.filter(order_id=pk).order_by("pk")[:1])


def payment_for_order(*, order_pk: int) -> Payment | None:
    """An order's payment (one at most: order_id is unique), read by its steps."""
    return next(iter(_PAYMENT_OF_ORDER(order_pk)), None)


def open_authorizations() -> QuerySet[Payment]:
    """Every authorization neither captured nor voided yet (money held on a card)."""
    return Payment.objects.filter(status=PaymentStatus.AUTHORIZED)


def payment_audit_rows(*, order_pks: QuerySet | None = None) -> list[dict[str, Any]]:
    """Every payment of the orders in `order_pks` (a subquery of order pks; None: all), as plain
    rows for the invariant audit: one query, however many orders."""
    payments = (
        Payment.objects.all()
        if order_pks is None
        else Payment.objects.filter(order_id__in=order_pks)
    )
    return list(
        payments.values(
            "order_id",
            "status",
            "amount_cents",
            "captured_cents",
            "voided_cents",
            "refunded_cents",
            "refunding_cents",
            "gateway_reference",
            "idempotency_key",
        )
    )


def payment_references(*, references: list[str]) -> dict[str, int]:
    """Which order each of these gateway references belongs to (those we know of)."""
    rows = Payment.objects.filter(gateway_reference__in=references).values_list(
        "gateway_reference", "order_id"
    )
    return dict(rows)


def gateway_ledger() -> list[LedgerEntry] | None:
    """The payment provider's own books (over its API); None if its adapter cannot list them."""
    return payment_ledger()


def order_refunds(*, order_pk: int) -> QuerySet[Refund]:
    """An order's refunds, oldest first (the caller already may see the order)."""
    return (
        Refund.objects.filter(payment__order_id=order_pk)
        .select_related("return_request")
        .order_by("created_at", "id")
    )


def refund_detail(*, refund_id: str) -> Refund:
    return Refund.objects.select_related("return_request").get(public_id=refund_id)


def refund_audit_rows(*, order_pks: QuerySet | None = None) -> list[dict[str, Any]]:
    """Succeeded and pending refunds per order, as sums (one grouped query), for the audit."""
    refunds = (
        Refund.objects.all()
        if order_pks is None
        else Refund.objects.filter(payment__order_id__in=order_pks)
    )
    return list(
        refunds.order_by()
        .values(order_id=F("payment__order_id"))
        .annotate(
            succeeded=Coalesce(Sum("amount_cents", filter=Q(status=RefundStatus.SUCCEEDED)), 0),
            pending=Coalesce(Sum("amount_cents", filter=Q(status=RefundStatus.PENDING)), 0),
        )
    )


def refund_totals() -> dict[str, int]:
    """Cents refunded per refund status, every status present (one grouped query)."""
    sums = dict(Refund.objects.order_by().values_list("status").annotate(cents=Sum("amount_cents")))
    return {status.value: sums.get(status.value, 0) for status in RefundStatus}


def payments_owing_refunds() -> QuerySet[Payment]:
    """Payments with cents promised to refunds not yet paid out."""
    return Payment.objects.filter(refunding_cents__gt=0)


def pending_refund_ids(*, order_pk: int) -> list[str]:
    rows = Refund.objects.filter(payment__order_id=order_pk, status=RefundStatus.PENDING).order_by(
        "created_at", "id"
    )
    return [str(pk) for pk in rows.values_list("public_id", flat=True)]


def payment_state_rows(*, first: int, last: int) -> list[tuple]:
    """(order pk, status, amount, captured, voided, refunded, refunding cents) of the payments of
    orders `first`..`last` (pks), by order: what verify_events compares, a batch per query."""
    payments = Payment.objects.filter(order_id__gte=first, order_id__lte=last).order_by("order_id")
    fields = (
        "status",
        "amount_cents",
        "captured_cents",
        "voided_cents",
        "refunded_cents",
        "refunding_cents",
    )
    return list(payments.values_list("order_id", *fields))
