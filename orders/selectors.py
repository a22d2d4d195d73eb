"""Read queries on orders, scoped to whoever asks."""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet
from django.db.models.fields.json import KT
from django.http import Http404

from inventory.selectors import product_exists
from ordersite.compiled import CompiledRead

from .models import Order, OrderEvent, OrderItem, ReturnLine, ReturnRequest
from .states import ReturnStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def order_list(*, user: "AbstractBaseUser | AnonymousUser") -> QuerySet[Order]:
    """The orders `user` may see: staff see all, a customer only their own."""
    orders = Order.objects.select_related("customer")
    if getattr(user, "is_staff", False):
        return orders
    return orders.filter(customer=user)


def order_detail(*, user: "AbstractBaseUser | AnonymousUser", order_id: str) -> Order:
    """One order by public id; another customer's order is as unknown as a missing one (404)."""
    try:
        return order_list(user=user).prefetch_related("items").get(public_id=order_id)
    except (Order.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise Http404(f"Order {order_id} not found.") from exc


_ORDER_BY_PUBLIC_ID = CompiledRead(lambda public_id: Order.objects.filter(public_id=public_id))


def order_for_step(*, order_id: str | uuid.UUID) -> Order:
    """The current row of an order, read fresh by a pipeline step (no caller scoping). Raises
    Order.DoesNotExist, or ValidationError for an id that is no UUID, as Order.objects.get."""
    orders = _ORDER_BY_PUBLIC_ID(_as_uuid(order_id))
    if not orders:
        raise Order.DoesNotExist(f"No order {order_id}.")
    return orders[0]


def _as_uuid(value: str | uuid.UUID) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise ValidationError(f"“{value}” is not a valid UUID.", code="invalid") from exc


def order_by_public_id(*, order_id: str) -> Order | None:
    """order_for_step for an id that may name nothing: None if no order has it, or if it is no
    UUID at all (a dead letter's first argument, a command line's --order)."""
    try:
        return order_for_step(order_id=order_id)
    except (Order.DoesNotExist, ValidationError):
        return None


_ITEMS_OF_ORDER = CompiledRead(
    lambda pk: OrderItem.objects.filter(order_id=pk).order_by("product_id")
)


def order_items(*, order: Order) -> list[OrderItem]:
    """Lines in product-id order: reservations take row locks in this order, so none deadlock."""
    items = _ITEMS_OF_ORDER(order.pk)
    for item in items:
        item.order = order  # as order.items would: no query for it later
    return items


def order_events(*, order: Order) -> QuerySet[OrderEvent]:
    return OrderEvent.objects.filter(order=order).order_by("seq")


_EVENTS_OF_KIND = CompiledRead(
    lambda pk, kind: OrderEvent.objects.filter(order_id=pk).filter(kind=kind).order_by("seq")
)


def order_events_of_kind(*, order: Order, kind: str) -> list[OrderEvent]:
    """The order's events of one kind, oldest first (a step asking what happened before it)."""
    return _EVENTS_OF_KIND(order.pk, kind)


def order_ids_in_status(*, status: str, limit: int = 1000) -> list[str]:
    """Public ids of orders in `status`, oldest change first (the beat tasks' work list)."""
    rows = (
        Order.objects.filter(status=status)
        .order_by("updated_at")
        .values_list("public_id", flat=True)[:limit]
    )
    return [str(public_id) for public_id in rows]


def stuck_orders(
    *, statuses: Iterable[str], unchanged_since: datetime, limit: int = 500
) -> QuerySet[Order]:
    """Orders in one of `statuses` with no change and no timeline event since `unchanged_since`:
    a step that is retrying writes a `step_retry` event per attempt, so it is not stuck. An order
    flagged for review (a step of it in the dead-letter queue) waits for staff, not for a
    re-send."""
    return (
        Order.objects.filter(
            status__in=list(statuses), updated_at__lt=unchanged_since, dead_lettered_at__isnull=True
        )
        .annotate(last_event_at=Max("events__created_at"))
        .filter(Q(last_event_at__lt=unchanged_since) | Q(last_event_at__isnull=True))
        .order_by("updated_at")[:limit]
    )


def ended_orders_still_holding(
    *,
    statuses: Iterable[str],
    unchanged_since: datetime,
    holding: dict[str, QuerySet],
    limit: int = 500,
) -> QuerySet[Order]:
    """Orders in one of `statuses` (ended) with no change and no timeline event since
    `unchanged_since`, not waiting for staff, that still appear in one of the `holding` querysets
    (rows of other apps with an `order_id`: held stock, an open authorization, a live booking).
    Each order carries one boolean per name of `holding`."""
    flags = {name: Exists(rows.filter(order_id=OuterRef("pk"))) for name, rows in holding.items()}
    anything = Q()
    for name in flags:
        anything |= Q(**{name: True})
    return (
        Order.objects.filter(
            status__in=list(statuses), updated_at__lt=unchanged_since, dead_lettered_at__isnull=True
        )
        .annotate(last_event_at=Max("events__created_at"), **flags)
        .filter(Q(last_event_at__lt=unchanged_since) | Q(last_event_at__isnull=True))
        .filter(anything)
        .order_by("updated_at")[:limit]
    )


def order_counts_by_status() -> dict[str, int]:
    """How many orders are in each status (one GROUP BY)."""
    return dict(Order.objects.order_by().values_list("status").annotate(n=Count("id")))


def order_search(*, orders: QuerySet[Order], term: str) -> QuerySet[Order]:
    """Staff search, one indexed lookup per kind of term: an order or correlation id, an exact
    sku, else a customer's username or email. (One OR across all of them joins every order to
    its customer and items and scans them all: seconds on a million orders.)"""
    term = term.strip()
    if not term:
        return orders
    try:
        uid = uuid.UUID(term)
    except ValueError:
        uid = None
    if uid is not None:
        return orders.filter(Q(public_id=uid) | Q(correlation_id=uid))
    if product_exists(sku=term):
        return orders.filter(
            Exists(OrderItem.objects.filter(order=OuterRef("pk"), product__sku=term))
        )
    customers = get_user_model().objects.filter(
        Q(username__icontains=term) | Q(email__icontains=term)
    )
    return orders.filter(customer__in=customers.values("pk"))


# --- returns ------------------------------------------------------------------------------
def order_returns(*, order: Order) -> QuerySet[ReturnRequest]:
    """An order's returns, newest first, with their lines (the caller already may see the order)."""
    return order.returns.prefetch_related("lines__item").order_by("-created_at", "-id")


def return_detail(*, user: "AbstractBaseUser | AnonymousUser", return_id: str) -> ReturnRequest:
    """One return by public id, if `user` may see its order (404 otherwise, as for orders)."""
    try:
        return (
            ReturnRequest.objects.select_related("order__customer")
            .prefetch_related("lines__item")
            .get(public_id=return_id, order__in=order_list(user=user))
        )
    except (ReturnRequest.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise Http404(f"Return {return_id} not found.") from exc


def return_for_step(*, return_id: str) -> ReturnRequest:
    """The current row of a return, read fresh by a service or a task (no caller scoping)."""
    return ReturnRequest.objects.select_related("order").get(public_id=return_id)


def return_refund_lines(*, return_id: str) -> list[dict[str, Any]]:
    """A received return's lines as plain rows for the other apps (sku, product, quantity,
    condition, unit price)."""
    return list(
        ReturnLine.objects.filter(return_request__public_id=return_id)
        .order_by("item__product_id")
        .values(
            "quantity",
            "condition",
            sku=F("item__sku"),
            product_id=F("item__product_id"),
            unit_price_cents=F("item__unit_price_cents"),
        )
    )


def return_counts_by_status() -> dict[str, int]:
    return dict(ReturnRequest.objects.order_by().values_list("status").annotate(n=Count("id")))


def return_for_step_pk(*, pk: int) -> ReturnRequest:
    return ReturnRequest.objects.select_related("order").get(pk=pk)


def return_public_id(*, pk: int) -> uuid.UUID:
    return ReturnRequest.objects.values_list("public_id", flat=True).get(pk=pk)


def received_returns() -> QuerySet[ReturnRequest]:
    """Returns the warehouse received that are not refunded yet (the refund is on its way)."""
    return ReturnRequest.objects.filter(status=ReturnStatus.RECEIVED)


def received_return_ids(*, order: Order) -> list[str]:
    return [
        str(pk) for pk in received_returns().filter(order=order).values_list("public_id", flat=True)
    ]


def order_state_rows(*, after: int, limit: int, order_pk: int | None = None) -> list[tuple]:
    """(pk, public id, status, total, currency, refunded cents, delivered at) of the next `limit`
    orders with a pk above `after` (or of one order), by pk: one batch of verify_events."""
    orders = (
        Order.objects.filter(pk__gt=after)
        if order_pk is None
        else Order.objects.filter(pk=order_pk)
    )
    rows = orders.order_by("pk").values_list(
        "pk", "public_id", "status", "total_cents", "currency", "refunded_cents", "delivered_at"
    )
    return list(rows[:limit])


def event_rows(*, first: int, last: int, fields: Iterable[str]) -> list[tuple]:
    """(order pk, seq, kind, status, then each of `fields` of its data as text or None) of the
    events of orders `first`..`last` (pks), by order and seq: one query over the (order, seq)
    index for a whole batch of verify_events, PostgreSQL extracting the fields (`data ->> ...`)."""
    extracted = {f"data_{name}": KT(f"data__{name}") for name in fields}
    events = OrderEvent.objects.filter(order_id__gte=first, order_id__lte=last).order_by(
        "order_id", "seq"
    )
    return list(
        events.annotate(**extracted).values_list("order_id", "seq", "kind", "status", *extracted)
    )


def return_state_rows(*, first: int, last: int) -> list[tuple]:
    """(order pk, return public id, status, amount cents) of the returns of orders `first`..`last`
    (pks): what verify_events compares, a batch per query."""
    returns = ReturnRequest.objects.filter(order_id__gte=first, order_id__lte=last).order_by(
        "order_id", "id"
    )
    return list(returns.values_list("order_id", "public_id", "status", "amount_cents"))


_EVENT_WITH_ORDER = CompiledRead(
    lambda public_id, seq: (
        OrderEvent.objects.select_related("order__customer")
        .filter(order__public_id=public_id)
        .filter(seq=seq)
    )
)


def order_event(*, order_id: str, seq: int) -> OrderEvent | None:
    """One event of an order, with its order and customer (what a notification is about)."""
    try:
        return next(iter(_EVENT_WITH_ORDER(_as_uuid(order_id), seq)), None)
    except ValidationError:
        return None


def recent_events(
    *, kinds: Iterable[str], since: datetime, until: datetime
) -> QuerySet[OrderEvent]:
    """Events of `kinds` written between `since` and `until`, of orders placed since `since`: the
    order-id bound lets the (order, seq) index skip the old history (a sweep, not an audit)."""
    first = Order.objects.filter(created_at__gte=since).aggregate(first=Min("id"))["first"]
    if first is None:
        return OrderEvent.objects.none()
    return OrderEvent.objects.filter(
        order_id__gte=first, kind__in=list(kinds), created_at__gte=since, created_at__lt=until
    ).order_by("order_id", "seq")


def order_events_between(
    *, order_id: str, after_seq: int, up_to_seq: int | None = None
) -> QuerySet[OrderEvent]:
    """An order's events after `after_seq` (through `up_to_seq`), by seq: what a live client
    missed. The caller has already checked who may read the order."""
    events = OrderEvent.objects.select_related("order").filter(
        order__public_id=order_id, seq__gt=after_seq
    )
    if up_to_seq is not None:
        events = events.filter(seq__lte=up_to_seq)
    return events.order_by("seq")


def events_since(
    *, user: "AbstractBaseUser | AnonymousUser", since: datetime
) -> QuerySet[OrderEvent]:
    """The events of the orders `user` may see written since `since`, oldest first."""
    events = OrderEvent.objects.select_related("order").filter(created_at__gte=since)
    if not getattr(user, "is_staff", False):
        events = events.filter(order__customer=user)
    return events.order_by("created_at", "order_id", "seq")


def username_of(*, user_id: int) -> str:
    """A customer's username (the `customer_id` the seed protocol shows); empty if gone."""
    return (
        get_user_model().objects.filter(pk=user_id).values_list("username", flat=True).first() or ""
    )
