"""Stock changes: reserve for an order, release on compensation, commit when the parcel ships,
restock what a return brings back.

Every change is a guarded UPDATE (compare-and-swap): no read-modify-write, no row lock held
across anything but the statement itself and its transaction.
"""

import logging

from django.db import transaction
from django.db.models import F, Q

from orders import selectors as order_selectors
from orders import services as order_services
from orders import services_returns as return_services
from orders.pipeline import compensate_on_commit, send_on_commit
from orders.states import COMPENSABLE, EventKind, LineCondition, OrderStatus
from orders.steps import REFUND_RETURN
from ordersite.db import CompiledUpdate, cas_update, require_transaction, update_returning
from ordersite.errors import ConflictError

from .exceptions import OutOfStockError
from .models import Product, Reservation, ReservationStatus
from .selectors import held_reservations

logger = logging.getLogger(__name__)


# Units held for an order, never more than are on hand (the never-oversold rule).
_HOLD_UNITS = CompiledUpdate(
    Product,
    where=lambda quantity: Q(on_hand__gte=F("reserved") + quantity),
    changes=lambda quantity: {"reserved": F("reserved") + quantity},
)
# Held units leave the shelf with the parcel.
_SHIP_UNITS = CompiledUpdate(
    Product,
    where=lambda quantity: Q(reserved__gte=quantity, on_hand__gte=quantity),
    changes=lambda quantity: {
        "reserved": F("reserved") - quantity,
        "on_hand": F("on_hand") - quantity,
    },
)


def _reserve_units(*, product_id: int, sku: str, quantity: int) -> None:
    """Take `quantity` units of one product, or raise OutOfStockError. Call inside a transaction."""
    if not _HOLD_UNITS(product_id, quantity):
        available = Product.objects.filter(pk=product_id).values_list("on_hand", "reserved").first()
        left = available[0] - available[1] if available else 0
        raise OutOfStockError(
            f"Only {left} of {sku} left.", sku=sku, available=left, requested=quantity
        )


def reserve_stock(*, order_id: str) -> str:
    """Pipeline step: hold every line of a paid order, all or nothing.

    Idempotent: an order already past `paid` is left alone. Lines are reserved in product-id
    order so two orders never wait on each other's rows (no deadlock). Out of stock is a state,
    not an error: the order goes `out_of_stock` and compensation voids its authorization.
    """
    try:
        with transaction.atomic(durable=True):
            order = order_selectors.order_for_step(order_id=order_id)
            if order.status != OrderStatus.PAID:
                return f"skipped: order is {order.status}"
            lines = order_selectors.order_items(order=order)
            for line in lines:
                _reserve_units(product_id=line.product_id, sku=line.sku, quantity=line.quantity)
            Reservation.objects.bulk_create(
                Reservation(order=order, product_id=line.product_id, quantity=line.quantity)
                for line in lines
            )
            order_services.transition_order(
                order,
                OrderStatus.RESERVED,
                kind=EventKind.STOCK_RESERVED,
                lines=[{"sku": line.sku, "quantity": line.quantity} for line in lines],
            )
    except OutOfStockError as exc:
        # Everything above rolled back (no savepoint needed on the common path); record the
        # outcome in a transaction of its own, if the order is still waiting for stock.
        with transaction.atomic(durable=True):
            order = order_selectors.order_for_step(order_id=order_id)
            if order.status != OrderStatus.PAID:
                return f"skipped: order is {order.status}"
            order_services.transition_order(
                order,
                OrderStatus.OUT_OF_STOCK,
                kind=EventKind.STOCK_UNAVAILABLE,
                reason=exc.message,
                **exc.data,
            )
            compensate_on_commit(order_id=order_id)
        return "out_of_stock"
    return "reserved"


def release_stock(*, order_id: str) -> str:
    """Compensation: give back every unit an order still holds. Idempotent (held rows only).
    Acts only on an order that will not complete (COMPENSABLE): a live order's stock stays held."""
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        if order.status not in COMPENSABLE:
            return f"skipped: order is {order.status}"
        held = held_reservations(order_pk=order.pk)
        for reservation in held:
            # Once: a concurrent release of the same row makes this one a conflict.
            cas_update(
                Reservation,
                reservation.pk,
                when=Q(status=ReservationStatus.HELD),
                status=ReservationStatus.RELEASED,
            )
            cas_update(
                Product,
                reservation.product_id,
                when=Q(reserved__gte=reservation.quantity),
                reserved=F("reserved") - reservation.quantity,
            )
        if held:
            order_services.record_event(
                order,
                EventKind.STOCK_RELEASED,
                lines=[{"product_id": r.product_id, "quantity": r.quantity} for r in held],
            )
    return f"released {len(held)}"


def commit_stock(*, order_pk: int) -> None:
    """The parcel left: held units leave the shelf (on hand and reserved both drop). Call inside
    a transaction, with the shipment it accounts for. One UPDATE turns the held reservations
    committed and says what they held; products then change in product-id order (no deadlock)."""
    require_transaction("commit_stock")
    committed = update_returning(
        Reservation.objects.filter(order_id=order_pk, status=ReservationStatus.HELD),
        ("product_id", "quantity"),
        status=ReservationStatus.COMMITTED,
    )
    for product_id, quantity in sorted(committed):
        if not _SHIP_UNITS(product_id, quantity):
            raise ConflictError(Product._meta.label, pk=product_id)


def create_product(
    *, sku: str, name: str, price_cents: int, on_hand: int, currency: str = "USD"
) -> Product:
    with transaction.atomic(durable=True):
        return Product.objects.create(
            sku=sku, name=name, price_cents=price_cents, on_hand=on_hand, currency=currency
        )


def update_product(*, sku: str, version: int, name: str, price_cents: int, on_hand: int) -> None:
    """Staff edit: compare-and-swap on the version the form was loaded with, and never below
    what is reserved (the CHECK constraint would refuse it anyway)."""
    with transaction.atomic(durable=True):
        product = Product.objects.get(sku=sku)
        cas_update(
            Product,
            product.pk,
            version=version,
            when=Q(reserved__lte=on_hand),
            name=name,
            price_cents=price_cents,
            on_hand=on_hand,
        )


def receive_return(*, return_id: str, conditions: dict[str, str], actor: str) -> None:
    """The warehouse received an approved return: each line's condition is recorded, restockable
    units go back on the shelf (a guarded UPDATE per product, in product-id order), and the
    refund is sent once this commits. One transaction: a return is received, restocked and
    refunded exactly once, however often staff click."""
    with transaction.atomic(durable=True):
        ret = order_selectors.return_for_step(return_id=return_id)
        lines = return_services.mark_return_received(ret, conditions=conditions, actor=actor)
        restocked = [line for line in lines if line.condition == LineCondition.RESTOCKABLE]
        for line in restocked:  # already in product-id order
            cas_update(Product, line.item.product_id, on_hand=F("on_hand") + line.quantity)
        if restocked:
            return_services.mark_return_restocked(
                ret, lines=[{"sku": line.item.sku, "quantity": line.quantity} for line in restocked]
            )
        send_on_commit(REFUND_RETURN, str(ret.order.public_id), return_id)
