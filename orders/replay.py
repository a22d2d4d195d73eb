"""The event log as the source of truth: an order's state rebuilt from its events alone.

`replay` is a pure fold over an order's events, oldest first: no query, no clock. Each event
stores the order's status as of its number (orders/timeline.py), and the data of the events that
move money or parcels carries the amounts and references needed to rebuild the order's totals,
its payment and its shipment (see README, "The event log"). `differences` compares that with
what the tables hold; `manage.py verify_events` runs both over every order.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from .states import EventKind, can_transition

K = EventKind
# Every data field the fold reads, with its type: verify_events has PostgreSQL extract just these,
# rather than parse each event's whole JSON in Python.
FOLDED_FIELDS: dict[str, type] = {
    "total_cents": int,
    "currency": str,
    "amount_cents": int,
    "carrier": str,
    "tracking_number": str,
    "delivered_at": str,
    "return_id": str,
}


@dataclass
class PaymentState:
    status: str
    amount_cents: int
    captured_cents: int = 0
    voided_cents: int = 0
    refunded_cents: int = 0
    refunding_cents: int = 0


@dataclass
class ShipmentState:
    carrier: str
    tracking_number: str
    status: str = "created"
    delivered_at: datetime | None = None


@dataclass
class ReturnState:
    status: str
    amount_cents: int


@dataclass
class OrderState:
    """What `verify_events` compares. A field None in a replayed state was never recorded (an
    order placed before its event carried it) and is not compared."""

    status: str | None = None
    total_cents: int | None = None
    currency: str | None = None
    refunded_cents: int = 0
    delivered_at: datetime | None = None
    payment: PaymentState | None = None
    shipment: ShipmentState | None = None
    # The order's returns by their public id.
    returns: dict[str, ReturnState] = field(default_factory=dict)
    # Problems of the log itself (a status move TRANSITIONS refuse): reported like differences.
    log_problems: list[str] = field(default_factory=list)


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _cents(data: Mapping[str, Any], name: str = "amount_cents") -> int:
    return int(data.get(name) or 0)


def _payment(state: OrderState, kind: str, data: Mapping[str, Any]) -> None:
    """The payment's row, as the payments services write it with each of these events."""
    pay = state.payment
    if kind == K.PAYMENT_AUTHORIZED and pay is None:
        state.payment = PaymentState("authorized", _cents(data))
    elif kind == K.PAYMENT_FAILED and pay is None:
        state.payment = PaymentState("failed", 0)
    elif kind == K.PAYMENT_CAPTURED and pay is not None:
        pay.status, pay.captured_cents = "captured", _cents(data)
    elif kind == K.PAYMENT_VOIDED:
        # An authorization that landed after the order ended may have no event of its own (logs
        # written before it got one): the void carries its amount.
        state.payment = pay = pay or PaymentState("authorized", _cents(data))
        pay.status, pay.voided_cents = "voided", _cents(data)
    elif kind == K.REFUND_REQUESTED and pay is not None:
        pay.refunding_cents += _cents(data)
    elif kind == K.REFUND_ABANDONED and pay is not None:
        pay.refunding_cents -= _cents(data)
    elif kind == K.PAYMENT_REFUNDED and pay is not None:
        amount = _cents(data)
        pay.refunding_cents -= amount
        pay.captured_cents -= amount
        pay.refunded_cents += amount
        pay.status = "refunded" if pay.captured_cents == 0 else "partially_refunded"
        state.refunded_cents += amount


def _shipment(state: OrderState, kind: str, data: Mapping[str, Any]) -> None:
    """The shipment's row, as the shipping services write it with each of these events."""
    ship = state.shipment
    if kind == K.ORDER_SHIPPED:
        # Shipped by the pipeline or by hand (which takes over a booking called back before).
        delivered = ship.delivered_at if ship else None
        state.shipment = ShipmentState(
            str(data.get("carrier", "")), str(data.get("tracking_number", ""))
        )
        state.shipment.delivered_at = delivered
    elif kind == K.SHIPMENT_CREATED and ship is None:
        state.shipment = ShipmentState(
            str(data.get("carrier", "")), str(data.get("tracking_number", ""))
        )
    elif kind == K.SHIPMENT_CANCELLED and ship is not None:
        ship.status = "cancelled"
    elif kind == K.ORDER_DELIVERED:
        state.delivered_at = state.delivered_at or _when(data.get("delivered_at"))
        if ship is not None and ship.delivered_at is None:
            ship.delivered_at = state.delivered_at


# Each return's status after its event (payment_refunded names the return it paid, if any).
_RETURN_MOVES = {
    K.RETURN_APPROVED: "approved",
    K.RETURN_REFUSED: "refused",
    K.RETURN_RECEIVED: "received",
    K.PAYMENT_REFUNDED: "refunded",
}


def _returns(state: OrderState, kind: str, data: Mapping[str, Any]) -> None:
    """The order's returns, as orders/services_returns.py writes them with each of these events."""
    return_id = data.get("return_id")
    if not return_id:
        return
    if kind == K.RETURN_REQUESTED:
        state.returns[str(return_id)] = ReturnState("requested", _cents(data))
    elif kind in _RETURN_MOVES and str(return_id) in state.returns:
        state.returns[str(return_id)].status = _RETURN_MOVES[kind]


def apply(
    state: OrderState, seq: int, kind: str, status: str, data: Mapping[str, Any]
) -> OrderState:
    """One step of the fold: `state` after the event (`state` is changed in place)."""
    if (
        state.status is not None
        and status != state.status
        and not can_transition(state.status, status)
    ):
        state.log_problems.append(
            f"event #{seq} ({kind}) moves {state.status} -> {status}, which TRANSITIONS refuse"
        )
    state.status = status
    if kind == K.ORDER_CREATED:
        state.total_cents = data.get("total_cents")
        state.currency = data.get("currency")
    _payment(state, kind, data)
    _shipment(state, kind, data)
    _returns(state, kind, data)
    return state


def replay(events: Iterable[tuple[int, str, str, Mapping[str, Any]]]) -> OrderState:
    """The order's state from its events (seq, kind, status, data), oldest first."""
    state = OrderState()
    for seq, kind, status, data in events:
        apply(state, seq, kind, status, data if isinstance(data, Mapping) else {})
    return state


def _compare(prefix: str, stored: object | None, replayed: object | None) -> list[str]:
    if stored is None and replayed is None:
        return []
    if stored is None or replayed is None:
        held = (
            "the events hold one, the tables none"
            if stored is None
            else "the tables hold one, the events none"
        )
        return [f"{prefix}: {held}"]
    return [
        f"{prefix}.{f.name}: stored {getattr(stored, f.name)!r},"
        f" events {getattr(replayed, f.name)!r}"
        for f in fields(stored)  # type: ignore[arg-type]
        if getattr(replayed, f.name) is not None
        and getattr(stored, f.name) != getattr(replayed, f.name)
    ]


def differences(stored: OrderState, replayed: OrderState) -> list[str]:
    """Each field where the tables and the events disagree, in words; empty when they agree."""
    found = list(replayed.log_problems)
    if replayed.status is None:
        return [*found, "no events"]
    for name in ("status", "total_cents", "currency", "refunded_cents", "delivered_at"):
        mine, theirs = getattr(stored, name), getattr(replayed, name)
        if theirs is not None and mine != theirs:
            found.append(f"{name}: stored {mine!r}, events {theirs!r}")
    found += _compare("payment", stored.payment, replayed.payment)
    found += _compare("shipment", stored.shipment, replayed.shipment)
    for return_id in sorted(stored.returns.keys() | replayed.returns.keys()):
        prefix = f"return {return_id}"
        found += _compare(prefix, stored.returns.get(return_id), replayed.returns.get(return_id))
    return found


def stored_state(
    order: tuple[str, int, str, int, datetime | None],
    payment: tuple[str, int, int, int, int, int] | None,
    shipment: tuple[str, str, str, datetime | None] | None,
    returns: Iterable[tuple[str, str, int]] = (),
) -> OrderState:
    """The tables' side, from the rows the selectors stream (same field order as the states)."""
    status, total, currency, refunded, delivered = order
    return OrderState(
        status=status,
        total_cents=total,
        currency=currency,
        refunded_cents=refunded,
        delivered_at=delivered,
        payment=PaymentState(*payment) if payment else None,
        shipment=ShipmentState(*shipment) if shipment else None,
        returns={
            str(return_id): ReturnState(status, amount) for return_id, status, amount in returns
        },
    )
