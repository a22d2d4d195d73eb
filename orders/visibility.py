"""What a customer may see of their order: the one place that decides it. Staff see everything.

The timeline and the order record internals for staff: gateway URLs and exception texts, breaker
states, DLQ entry ids, processor references, carrier roles, staff usernames. A customer gets a
projection built only from fixed texts and whitelisted values, so a new internal detail written
into an event's data stays internal unless it is added here on purpose:

- each EventKind has one rule in PUBLIC_EVENTS: a fixed message, and the data fields shown
  (each through a sanitizer in PUBLIC_FIELDS), or None for kinds a customer never sees (retries,
  re-sends, the stock released by a compensation, a discarded dead letter, which is followed by
  a visible `order_failed`); a kind without a rule is hidden;
- the order's `status_reason` becomes a fixed text for its status, and `needs_review` and
  `dead_lettered_at` are left out (STAFF_ONLY_ORDER_FIELDS).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .states import EventKind, OrderStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from .models import OrderEvent

STAFF_ONLY_ORDER_FIELDS = ("needs_review", "dead_lettered_at")
STAFF_ONLY_EVENT_FIELDS = ("actor",)

# Decline codes of the processor a customer can act on, with our own words for them.
DECLINE_MESSAGES = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "invalid_token": "The card details were not accepted.",
    "expired_card": "The card has expired.",
}
DECLINED = "The payment was declined."
# Reasons our own services give a cancellation, as customers read them.
CANCEL_REASONS = {
    "Cancelled on request.": "Cancelled on request.",
    "Cancelled by staff.": "Cancelled by staff.",
    "Out of stock.": "Cancelled: an item is out of stock.",
}
CANCELLED = "The order was cancelled."
STATUS_REASONS = {
    OrderStatus.OUT_OF_STOCK: "An item is out of stock.",
    OrderStatus.PENDING_SHIPMENT: "No carrier could take the parcel yet; we will try again.",
    OrderStatus.FAILED: "We could not complete this order.",
}


def is_staff(user: "AbstractBaseUser | AnonymousUser | None") -> bool:
    return bool(getattr(user, "is_staff", False))


def _cents(value: Any) -> int | None:
    """An integer (cents, a quantity), never a bool or a string that looks like one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(limit: int) -> Callable[[Any], str | None]:
    return lambda value: value[:limit] if isinstance(value, str) else None


def _lines(value: Any) -> list[dict[str, Any]] | None:
    """Order lines as sku and quantity only (the timeline also holds product ids)."""
    if not isinstance(value, list):
        return None
    return [
        {"sku": line["sku"][:64], "quantity": line["quantity"]}
        for line in value
        if isinstance(line, dict)
        and isinstance(line.get("sku"), str)
        and _cents(line.get("quantity")) is not None
    ]


def _decline_code(value: Any) -> str | None:
    return value if value in DECLINE_MESSAGES else None


# Every data field a customer may see, and how it is cleaned; anything else never leaves.
PUBLIC_FIELDS: dict[str, Callable[[Any], Any]] = {
    "amount_cents": _cents,
    "total_cents": _cents,
    "items": _lines,
    "lines": _lines,
    "sku": _text(64),
    "tracking_number": _text(80),
    "decline_code": _decline_code,
    "return_id": _text(36),
    "refunded_cents": _cents,
    "delivered_at": _text(40),
}


@dataclass(frozen=True)
class PublicRule:
    message: str
    fields: tuple[str, ...] = ()
    # A message chosen from fixed texts by the event's data, else `message`.
    message_for: Callable[[dict[str, Any]], str | None] | None = None


def _decline_message(data: dict[str, Any]) -> str | None:
    return DECLINE_MESSAGES.get(data.get("decline_code"))


def _cancel_message(data: dict[str, Any]) -> str | None:
    return CANCEL_REASONS.get(data.get("reason"))


K = EventKind
PUBLIC_EVENTS: dict[EventKind, PublicRule | None] = {
    K.ORDER_CREATED: PublicRule("Order placed.", ("total_cents", "items")),
    K.PAYMENT_STARTED: PublicRule("Payment started."),
    K.PAYMENT_AUTHORIZED: PublicRule("Payment authorized.", ("amount_cents",)),
    K.PAYMENT_FAILED: PublicRule(DECLINED, ("decline_code",), _decline_message),
    K.PAYMENT_CAPTURED: PublicRule("Payment taken.", ("amount_cents",)),
    K.PAYMENT_VOIDED: PublicRule("The hold on the card was released.", ("amount_cents",)),
    K.PAYMENT_REFUNDED: PublicRule("Payment refunded.", ("amount_cents", "refunded_cents")),
    K.STOCK_RESERVED: PublicRule("Items reserved.", ("lines",)),
    K.STOCK_UNAVAILABLE: PublicRule("An item is out of stock.", ("sku",)),
    K.STOCK_RELEASED: None,
    K.SHIPMENT_CREATED: PublicRule("Parcel booked.", ("tracking_number",)),
    K.SHIPMENT_FAILED: PublicRule(STATUS_REASONS[OrderStatus.PENDING_SHIPMENT]),
    # A compensation's bookkeeping, as stock_released is: `order_cancelled` says what matters.
    K.SHIPMENT_CANCELLED: None,
    K.ORDER_SHIPPED: PublicRule("Shipped.", ("tracking_number",)),
    K.ORDER_COMPLETED: PublicRule("Order completed."),
    K.CANCEL_REQUESTED: PublicRule("Cancellation requested."),
    K.ORDER_CANCELLED: PublicRule(CANCELLED, (), _cancel_message),
    K.ORDER_FAILED: PublicRule(STATUS_REASONS[OrderStatus.FAILED]),
    K.STEP_RETRY: None,
    K.STEP_RESENT: None,
    K.DEAD_LETTERED: PublicRule("Processing is delayed; our team is looking into it."),
    K.DEAD_LETTER_REPLAYED: PublicRule("Processing resumed."),
    K.DEAD_LETTER_DISCARDED: None,
    # The order moved on and its parked entries were resolved: nothing a customer must act on.
    K.DEAD_LETTER_RESOLVED: None,
    K.COMPENSATION_RESENT: None,
    K.CARRIER_OUTCOME_UNKNOWN: None,
    K.STRAY_BOOKING_CANCELLED: None,
    # After the parcel leaves: the customer follows delivery, their returns and their money;
    # who acted (a carrier's webhook, the poll, a staff member) and processor references stay in.
    K.ORDER_DELIVERED: PublicRule("Delivered.", ("delivered_at",)),
    K.RETURN_REQUESTED: PublicRule("Return requested.", ("return_id", "amount_cents", "lines")),
    K.RETURN_APPROVED: PublicRule("Return approved: please send the parcel back.", ("return_id",)),
    K.RETURN_REFUSED: PublicRule("Return refused.", ("return_id",)),
    K.RETURN_RECEIVED: PublicRule("Returned parcel received.", ("return_id", "lines")),
    K.STOCK_RESTOCKED: None,
    K.REFUND_REQUESTED: PublicRule("Refund on its way.", ("amount_cents",)),
    K.REFUND_ABANDONED: PublicRule(
        "The refund could not be made to your card; our team will contact you.", ("amount_cents",)
    ),
    # Which mails went out (or why none could) is staff's record; the customer has the mail.
    K.NOTIFICATION_SENT: None,
    K.NOTIFICATION_SKIPPED: None,
}


def _public_message(rule: PublicRule, data: dict[str, Any]) -> str:
    return (rule.message_for(data) if rule.message_for else None) or rule.message


def public_event(event: "OrderEvent") -> dict[str, Any] | None:
    """The customer's view of one event, or None if customers do not see its kind."""
    rule = PUBLIC_EVENTS.get(event.kind)
    if rule is None:
        return None
    data = event.data if isinstance(event.data, dict) else {}
    shown = {name: PUBLIC_FIELDS[name](data.get(name)) for name in rule.fields}
    return {
        "seq": event.seq,
        "kind": event.kind,
        "status": event.status,
        "message": _public_message(rule, data),
        "data": {name: value for name, value in shown.items() if value is not None},
        "correlation_id": event.correlation_id,
        "created_at": event.created_at,
    }


def full_event(event: "OrderEvent") -> dict[str, Any]:
    """Staff's view: the whole record, with the message its customer reads (None if hidden)."""
    rule = PUBLIC_EVENTS.get(event.kind)
    return {
        "seq": event.seq,
        "kind": event.kind,
        "status": event.status,
        "message": _public_message(rule, event.data or {}) if rule else None,
        "data": event.data,
        "actor": event.actor,
        "correlation_id": event.correlation_id,
        "created_at": event.created_at,
    }


def timeline_for(
    *, user: "AbstractBaseUser | AnonymousUser", events: Iterable["OrderEvent"]
) -> list[dict[str, Any]]:
    """The timeline as `user` may read it, oldest first."""
    if is_staff(user):
        return [full_event(event) for event in events]
    return [shown for event in events if (shown := public_event(event)) is not None]


def public_status_reason(status: str, reason: str) -> str:
    """A fixed text for the order's status: status_reason itself may hold an exception, a
    gateway's answer or a staff note, and it lingers after the status moves on."""
    if status == OrderStatus.PAYMENT_FAILED:
        by_text = reason if reason in DECLINE_MESSAGES.values() else None
        return DECLINE_MESSAGES.get(reason) or by_text or DECLINED
    if status == OrderStatus.CANCELLED:
        return CANCEL_REASONS.get(reason, CANCELLED)
    return STATUS_REASONS.get(status, "")


def order_for(
    *, user: "AbstractBaseUser | AnonymousUser | None", body: dict[str, Any]
) -> dict[str, Any]:
    """An order's serialized body (or its status) as `user` may read it. Without a user (no
    request in the serializer's context) the customer's view is the safe default."""
    if is_staff(user):
        return body
    for name in STAFF_ONLY_ORDER_FIELDS:
        body.pop(name, None)
    if "status_reason" in body:
        body["status_reason"] = public_status_reason(body["status"], body["status_reason"])
    return body
