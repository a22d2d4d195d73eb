"""After the parcel leaves: delivery, returns and the refunds' mark on the order.

The order's own rows change here; the other apps call in: shipping when a parcel is delivered,
inventory when a return comes back to the warehouse, payments when money went back to the card.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from ordersite.db import cas_update, require_transaction

from .exceptions import (
    InvalidReturnTransitionError,
    NotInOrderError,
    NotReturnableError,
    NotYourOrderError,
    OrderNotDeliverableError,
    ReturnQuantityExceededError,
    ReturnWindowClosedError,
)
from .models import Order, ReturnLine, ReturnRequest
from .selectors import order_for_step, order_items, return_for_step
from .services import transition_order
from .states import (
    FULFILLED,
    RETURN_OPEN_OR_DONE,
    EventKind,
    LineCondition,
    OrderStatus,
    ReturnStatus,
)
from .states import can_transition_return as can_move_return
from .timeline import record_event

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


# --- delivery -----------------------------------------------------------------------------
def mark_order_delivered(
    order: Order, *, delivered_at: datetime, actor: str = "", **data: Any
) -> bool:
    """Record that the parcel arrived. Call inside a transaction (with the shipment's own
    record). Idempotent: False if the order already knows its delivery, whoever reported it
    first. A completed order turns `delivered`; one refunded meanwhile (goodwill for a late
    parcel) keeps its status and gains the event. Raises OrderNotDeliverableError before capture."""
    require_transaction("mark_order_delivered")
    if order.delivered_at is not None:
        return False
    if order.status not in FULFILLED:
        raise OrderNotDeliverableError(
            f"Order {order.public_id} is {order.status}; only a completed order is delivered.",
            order_id=str(order.public_id),
            current_status=order.status,
        )
    cas_update(Order, order.pk, version=order.version, delivered_at=delivered_at)
    order.version += 1
    order.delivered_at = delivered_at
    event = {"delivered_at": delivered_at.isoformat(), **data}
    if order.status == OrderStatus.COMPLETED:
        transition_order(
            order, OrderStatus.DELIVERED, kind=EventKind.ORDER_DELIVERED, actor=actor, **event
        )
    else:
        record_event(order, EventKind.ORDER_DELIVERED, actor=actor, **event)
    return True


# --- returns ------------------------------------------------------------------------------
def returned_quantities(*, order: Order) -> Counter[int]:
    """Units of each order item asked back by returns that are not refused."""
    rows = (
        ReturnLine.objects.filter(
            return_request__order=order, return_request__status__in=RETURN_OPEN_OR_DONE
        )
        .values_list("item_id")
        .annotate(n=Sum("quantity"))
    )
    return Counter(dict(rows))


def _check_returnable(order: Order, *, now: datetime) -> None:
    if order.delivered_at is None or order.status not in FULFILLED:
        raise NotReturnableError(
            f"Order {order.public_id} has not been delivered; it can be returned once it arrives.",
            order_id=str(order.public_id),
            current_status=order.status,
        )
    closes_at = order.delivered_at + timedelta(days=settings.RETURN_WINDOW_DAYS)
    if now > closes_at:
        raise ReturnWindowClosedError(
            f"Returns of order {order.public_id} closed on {closes_at:%Y-%m-%d %H:%M} UTC,"
            f" {settings.RETURN_WINDOW_DAYS} days after delivery.",
            order_id=str(order.public_id),
            delivered_at=order.delivered_at.isoformat(),
            window_closed_at=closes_at.isoformat(),
            return_window_days=settings.RETURN_WINDOW_DAYS,
        )


def request_return(
    *, order: Order, requester: "AbstractBaseUser", lines: list[dict[str, Any]], reason: str
) -> ReturnRequest:
    """A customer asks to send back `lines` ({sku, quantity}) of their delivered order, within
    RETURN_WINDOW_DAYS of delivery. Never more of a line than was bought less what returns not
    refused already ask: the check runs after a compare-and-swap on the order's version, so two
    requests racing on one order cannot both pass it (the loser gets a 409 `conflict`)."""
    if order.customer_id != requester.pk:
        raise NotYourOrderError(
            "Only the order's customer may ask for a return.", order_id=str(order.public_id)
        )
    wanted: Counter[str] = Counter()
    for line in lines:
        wanted[line["sku"]] += line["quantity"]
    with transaction.atomic(durable=True):
        order = order_for_step(order_id=str(order.public_id))
        _check_returnable(order, now=timezone.now())
        items = {item.sku: item for item in order_items(order=order)}
        unknown = sorted(set(wanted) - set(items))
        if unknown:
            message = f"Not in this order: {', '.join(unknown)}."
            raise NotInOrderError(message, fields={"lines": [message]}, skus=unknown)
        (seq,) = cas_update(
            Order,
            order.pk,
            version=order.version,
            returning=("last_event_seq",),
            last_event_seq=F("last_event_seq") + 1,
            updated_at=timezone.now(),
        )
        order.version += 1
        already = returned_quantities(order=order)
        for sku, quantity in sorted(wanted.items()):
            item = items[sku]
            left = item.quantity - already[item.pk]
            if quantity > left:
                raise ReturnQuantityExceededError(
                    f"Only {left} of {sku} can still be returned ({item.quantity} bought).",
                    sku=sku,
                    bought=item.quantity,
                    already_returned=already[item.pk],
                    requested=quantity,
                )
        ret = ReturnRequest.objects.create(
            order=order,
            reason=reason,
            amount_cents=sum(
                items[sku].unit_price_cents * quantity for sku, quantity in wanted.items()
            ),
        )
        ReturnLine.objects.bulk_create(
            ReturnLine(return_request=ret, item=items[sku], quantity=quantity)
            for sku, quantity in sorted(wanted.items())
        )
        record_event(
            order,
            EventKind.RETURN_REQUESTED,
            seq=seq,
            actor=requester.get_username(),
            return_id=str(ret.public_id),
            amount_cents=ret.amount_cents,
            lines=[{"sku": sku, "quantity": quantity} for sku, quantity in sorted(wanted.items())],
        )
    logger.info("return %s requested", ret.public_id, extra={"amount_cents": ret.amount_cents})
    return ret


def _move_return(ret: ReturnRequest, to: ReturnStatus, **changes: Any) -> None:
    """Move a return along RETURN_TRANSITIONS, compare-and-swap on its version. Call inside a
    transaction; two staff deciding at once: one wins, the other gets a ConflictError (409)."""
    require_transaction("_move_return")
    if not can_move_return(ret.status, to):
        raise InvalidReturnTransitionError(
            f"Return {ret.public_id} is {ret.status}; it cannot become {to}.",
            return_id=str(ret.public_id),
            current_status=ret.status,
            requested_status=str(to),
        )
    cas_update(
        ReturnRequest, ret.pk, version=ret.version, status=to, updated_at=timezone.now(), **changes
    )
    ret.version += 1
    ret.status = to


def decide_return(*, return_id: str, approve: bool, actor: str, note: str = "") -> ReturnRequest:
    """Staff approve a requested return (the customer sends the parcel) or refuse it (its units
    may be asked back again by another return)."""
    with transaction.atomic(durable=True):
        ret = return_for_step(return_id=return_id)
        order = order_for_step(order_id=str(ret.order.public_id))
        to, kind = (
            (ReturnStatus.APPROVED, EventKind.RETURN_APPROVED)
            if approve
            else (ReturnStatus.REFUSED, EventKind.RETURN_REFUSED)
        )
        _move_return(ret, to, decision_note=note[:500])
        ret.decision_note = note[:500]
        record_event(
            order, kind, actor=actor, return_id=str(ret.public_id), amount_cents=ret.amount_cents
        )
    return ret


def mark_return_received(
    ret: ReturnRequest, *, conditions: dict[str, str], actor: str
) -> list[ReturnLine]:
    """The warehouse opened the parcel: each line's condition (by sku) is recorded, the return
    turns `received`. Call inside a transaction (inventory restocks in the same one). Returns the
    lines, conditions set."""
    require_transaction("mark_return_received")
    lines = list(ret.lines.select_related("item").order_by("item__product_id"))
    skus = {line.item.sku for line in lines}
    if set(conditions) != skus:
        message = f"Give the condition of exactly these lines: {', '.join(sorted(skus))}."
        raise NotInOrderError(message, fields={"lines": [message]}, skus=sorted(skus))
    _move_return(ret, ReturnStatus.RECEIVED)
    for line in lines:
        line.condition = LineCondition(conditions[line.item.sku])
        ReturnLine.objects.filter(pk=line.pk).update(condition=line.condition)
    order = order_for_step(order_id=str(ret.order.public_id))
    record_event(
        order,
        EventKind.RETURN_RECEIVED,
        actor=actor,
        return_id=str(ret.public_id),
        lines=[
            {"sku": line.item.sku, "quantity": line.quantity, "condition": line.condition}
            for line in lines
        ],
    )
    return lines


def mark_return_restocked(ret: ReturnRequest, *, lines: list[dict[str, Any]]) -> None:
    """Its restockable units are back on the shelf: once (restocked_at), with the timeline line.
    Call inside a transaction, with the stock change."""
    require_transaction("mark_return_restocked")
    cas_update(ReturnRequest, ret.pk, version=ret.version, restocked_at=timezone.now())
    ret.version += 1
    order = order_for_step(order_id=str(ret.order.public_id))
    record_event(order, EventKind.STOCK_RESTOCKED, return_id=str(ret.public_id), lines=lines)


def mark_return_refunded(ret: ReturnRequest) -> None:
    """Its money went back. Call inside a transaction, with the refund's record."""
    require_transaction("mark_return_refunded")
    _move_return(ret, ReturnStatus.REFUNDED)


# --- refunds ------------------------------------------------------------------------------
def record_refund(
    order: Order, *, amount_cents: int, kept_cents: int, actor: str = "", **data: Any
) -> None:
    """Money went back to the card: the order counts it and turns `refunded` when nothing is
    kept any more, else `partially_refunded` (a second partial refund adds its event only).
    Call inside a transaction, with the payment's record; compare-and-swap on the version."""
    require_transaction("record_refund")
    to = OrderStatus.REFUNDED if kept_cents == 0 else OrderStatus.PARTIALLY_REFUNDED
    cas_update(
        Order, order.pk, version=order.version, refunded_cents=F("refunded_cents") + amount_cents
    )
    order.version += 1
    order.refunded_cents += amount_cents
    event = {"amount_cents": amount_cents, "refunded_cents": order.refunded_cents, **data}
    if to == order.status:
        record_event(order, EventKind.PAYMENT_REFUNDED, actor=actor, **event)
    else:
        transition_order(order, to, kind=EventKind.PAYMENT_REFUNDED, actor=actor, **event)
