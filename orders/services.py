"""State changes of orders: placing, moving along the state machine, cancelling, the timeline."""

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory import selectors as inventory_selectors
from ordersite.db import cas_update, require_transaction
from ordersite.errors import ConflictError

from . import parked, pipeline
from .exceptions import (
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    MixedCurrencyError,
    OrderNotCancellableError,
    StalePriceError,
    UnknownCustomerError,
    UnknownProductError,
)
from .models import IdempotencyKey, Order, OrderItem
from .selectors import order_for_step
from .states import CANCELLABLE, EventKind, OrderStatus, can_transition
from .timeline import record_change, record_event
from .timeline import record_step_event as record_step_event  # for the apps' steps

T = TypeVar("T")

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


def transition_order(
    order: Order,
    to: OrderStatus,
    *,
    kind: EventKind,
    actor: str = "",
    reason: str = "",
    **data: Any,
) -> None:
    """Move `order` along TRANSITIONS (compare-and-swap on its version) and append its event.
    Call inside a transaction. Raises InvalidTransitionError, or ConflictError on a lost race.
    Dead letters of steps the order has now left are resolved with the move (parked.py)."""
    require_transaction("transition_order")
    if not can_transition(order.status, to):
        raise InvalidTransitionError(
            f"Order {order.public_id} cannot go from {order.status} to {to}.",
            order_id=str(order.public_id),
            current_status=order.status,
            requested_status=str(to),
        )
    changes: dict[str, Any] = {"status": to, "updated_at": timezone.now()}
    if reason:
        changes["status_reason"] = reason[:255]
    # The status, the version, the event's number and the event itself: one statement.
    record_change(
        order,
        changes,
        version=order.version,
        kind=kind,
        actor=actor,
        **({"reason": reason} if reason else {}),
        **data,
    )
    parked.resolve_parked(order)
    extra = {"status": to, "event_kind": kind, **({"actor": actor} if actor else {})}
    logger.info("order %s -> %s", order.public_id, to, extra=extra)


def record_against_read(order: Order, record: Callable[[Order], T], *, fresh_reads: int = 1) -> T:
    """Run a step's `record` (one transaction, ending in a compare-and-swap on the order's
    version) with the order as the step read it before its gateway call: the common path needs no
    second read. If the order moved meanwhile (a cancel, another copy of the step: ConflictError,
    everything rolled back), run it again on a fresh read, up to `fresh_reads` (at least one)
    times; the last ConflictError is raised (the step's retries take it from there)."""
    order_id = str(order.public_id)
    with contextlib.suppress(ConflictError):
        return record(order)
    for _ in range(fresh_reads - 1):
        with contextlib.suppress(ConflictError):
            return record(order_for_step(order_id=order_id))
    return record(order_for_step(order_id=order_id))


def _merge_lines(items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Duplicate skus are merged into one line (quantities added), as documented in the API."""
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        line = merged.setdefault(
            item["sku"], {"quantity": 0, "unit_price_cents": item.get("unit_price_cents")}
        )
        line["quantity"] += item["quantity"]
    return merged


def _fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _existing_for_key(customer: "User", key: str, fingerprint: str) -> Order | None:
    existing = (
        IdempotencyKey.objects.select_related("order").filter(customer=customer, key=key).first()
    )
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(
            "This Idempotency-Key was used with a different request body.", idempotency_key=key
        )
    return existing.order


def resolve_customer(*, requester: "User", customer_id: str | None) -> "User":
    """Whom an order is for: the requester, or (staff only) the customer named by username."""
    if customer_id in (None, "", requester.get_username()):
        return requester
    if not requester.is_staff:
        message = "customer_id must be your own."
        raise UnknownCustomerError(
            message, fields={"customer_id": [message]}, customer_id=customer_id
        )
    user = get_user_model().objects.filter(username=customer_id).first()
    if user is None:
        message = f"No customer {customer_id}."
        raise UnknownCustomerError(
            message, fields={"customer_id": [message]}, customer_id=customer_id
        )
    return user


def place_order(
    *,
    customer: "User",
    items: list[dict[str, Any]],
    shipping_address: dict[str, Any] | None = None,
    payment_token: str = "tok_visa",  # noqa: S107  (a test card token, not a secret)
    idempotency_key: str | None = None,
    actor: str = "",
) -> tuple[Order, bool]:
    """Price every line from the catalog, store the order and its first event, and start the
    pipeline once that commits. Returns (order, created): a repeated Idempotency-Key with the
    same body returns the original order and False."""
    lines = _merge_lines(items)
    fingerprint = _fingerprint(
        {"lines": lines, "address": shipping_address or {}, "token": payment_token}
    )
    if idempotency_key:
        existing = _existing_for_key(customer, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False

    products = inventory_selectors.products_by_sku(skus=list(lines))
    unknown = sorted(set(lines) - set(products))
    if unknown:
        message = f"Unknown product(s): {', '.join(unknown)}."
        raise UnknownProductError(message, fields={"items": [message]}, skus=unknown)
    for sku, line in lines.items():
        quoted, price = line["unit_price_cents"], products[sku].price_cents
        if quoted is not None and quoted != price:
            raise StalePriceError(
                f"The price of {sku} is now {price} cents, not {quoted}.",
                sku=sku,
                quoted_unit_price_cents=quoted,
                current_unit_price_cents=price,
            )
    currencies = {sku: products[sku].currency for sku in lines}
    if len(set(currencies.values())) > 1:
        message = (
            "All lines of an order must be priced in one currency; place one order per currency."
        )
        raise MixedCurrencyError(message, fields={"items": [message]}, currencies=currencies)
    try:
        with transaction.atomic(durable=True):
            order = Order.objects.create(
                customer=customer,
                total_cents=sum(
                    products[sku].price_cents * line["quantity"] for sku, line in lines.items()
                ),
                currency=next(iter(currencies.values())),
                shipping_address=shipping_address or {},
                payment_token=payment_token,
                last_event_seq=1,  # order_created below: no UPDATE to number it
            )
            _remember_items(
                order,
                OrderItem.objects.bulk_create(
                    OrderItem(
                        order=order,
                        product_id=products[sku].pk,
                        sku=sku,
                        name=products[sku].name,
                        quantity=line["quantity"],
                        unit_price_cents=products[sku].price_cents,
                    )
                    for sku, line in lines.items()
                ),
            )
            if idempotency_key:
                IdempotencyKey.objects.create(
                    customer=customer,
                    key=idempotency_key,
                    request_fingerprint=fingerprint,
                    order=order,
                )
            record_event(
                order,
                EventKind.ORDER_CREATED,
                seq=1,
                actor=actor or customer.get_username(),
                total_cents=order.total_cents,
                currency=order.currency,
                items=[
                    {
                        "sku": sku,
                        "quantity": line["quantity"],
                        "unit_price_cents": products[sku].price_cents,
                    }
                    for sku, line in lines.items()
                ],
            )
            pipeline.start_on_commit(order_id=str(order.public_id))
    except IntegrityError:
        # A concurrent request with the same key won the insert; answer with its order.
        if idempotency_key:
            existing = _existing_for_key(customer, idempotency_key, fingerprint)
            if existing is not None:
                return existing, False
        raise
    logger.info(
        "order %s placed",
        order.public_id,
        extra={"total_cents": order.total_cents, "lines": len(lines)},
    )
    return order, True


def _remember_items(order: Order, items: list[OrderItem]) -> None:
    """`order.items` answers with the lines just written (ids included, in their `id` order), as
    after prefetch_related: the response shows them without reading them back."""
    known = order.items.all()
    known._result_cache = list(items)
    known._prefetch_done = True  # type: ignore[attr-defined]  # Django's, absent from the stubs
    order._prefetched_objects_cache = {"items": known}  # type: ignore[attr-defined]


def purge_idempotency_keys(*, older_than: timedelta) -> int:
    """Forget Idempotency-Keys older than `older_than` (the beat task runs this; the setting
    keeps it at 24 hours or more). After that a key may be reused for a new order."""
    with transaction.atomic(durable=True):
        deleted, _ = IdempotencyKey.objects.filter(
            created_at__lt=timezone.now() - older_than
        ).delete()
    return deleted


# A step moves an order a handful of times in its life, so three tries outlast any race.
CANCEL_ATTEMPTS = 3


def cancel_order(*, order: Order, actor: str, reason: str = "Cancelled on request.") -> Order:
    """Cancel before the parcel leaves. The order turns `cancelled` at once; compensation (void
    the authorization, release the stock) runs on commit, and a step still in flight notices the
    cancellation when it tries to move the order and compensates for its own work."""
    _require_cancellable(order)
    attempts_left = CANCEL_ATTEMPTS
    while True:
        try:
            return _cancel_once(order_id=str(order.public_id), actor=actor, reason=reason)
        except ConflictError:
            # A pipeline step moved the order between our read and our write: read it again;
            # if it is still cancellable the cancel wins, otherwise the customer hears why.
            attempts_left -= 1
            if not attempts_left:
                raise


def _require_cancellable(order: Order) -> None:
    if order.status not in CANCELLABLE:
        raise OrderNotCancellableError(
            f"Order {order.public_id} is {order.status} and can no longer be cancelled.",
            order_id=str(order.public_id),
            current_status=order.status,
        )


def _cancel_once(*, order_id: str, actor: str, reason: str) -> Order:
    with transaction.atomic(durable=True):
        order = order_for_step(order_id=order_id)
        _require_cancellable(order)
        cas_update(Order, order.pk, version=order.version, cancel_requested_at=timezone.now())
        order.version += 1
        transition_order(
            order, OrderStatus.CANCELLED, kind=EventKind.ORDER_CANCELLED, actor=actor, reason=reason
        )
        pipeline.compensate_on_commit(order_id=str(order.public_id))
    return order
