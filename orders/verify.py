"""verify_events: every order replayed from its events (orders/replay.py) and compared with what
the tables hold. Orders are read in batches of BATCH by pk, and each batch's events, payments,
shipments and returns with one query each: five queries per batch whatever its orders hold,
memory bounded by a batch, and no cursor held across transactions (so it runs through PgBouncer
in transaction mode too). The whole run is one REPEATABLE READ snapshot: an order changing
meanwhile is seen either wholly before or wholly after its change."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction

from payments.selectors import payment_state_rows
from shipping.selectors import shipment_state_rows

from .replay import FOLDED_FIELDS, differences, replay, stored_state
from .selectors import event_rows, order_state_rows, return_state_rows

BATCH = 2000


@dataclass(frozen=True)
class Mismatch:
    order_id: str
    problems: list[str]


def _by_order(rows: list[tuple]) -> dict[int, list[tuple]]:
    grouped: dict[int, list[tuple]] = defaultdict(list)
    for order_pk, *rest in rows:
        grouped[order_pk].append(tuple(rest))
    return grouped


def _events_by_order(first: int, last: int) -> dict[int, list[tuple]]:
    """Each order's events as the fold takes them, (seq, kind, status, data), data holding only the
    fields it reads."""
    fields = list(FOLDED_FIELDS.items())
    grouped: dict[int, list[tuple]] = defaultdict(list)
    for order_pk, seq, kind, status, *values in event_rows(
        first=first, last=last, fields=FOLDED_FIELDS
    ):
        data = {
            name: cast(value)
            for (name, cast), value in zip(fields, values, strict=True)
            if value is not None
        }
        grouped[order_pk].append((seq, kind, status, data))
    return grouped


def _check_batch(orders: list[tuple]) -> Iterator[Mismatch]:
    first, last = orders[0][0], orders[-1][0]
    events = _events_by_order(first, last)
    payments = {pk: tuple(rest) for pk, *rest in payment_state_rows(first=first, last=last)}
    shipments = {pk: tuple(rest) for pk, *rest in shipment_state_rows(first=first, last=last)}
    returns = _by_order(return_state_rows(first=first, last=last))
    for pk, public_id, *order in orders:
        stored = stored_state(
            tuple(order), payments.get(pk), shipments.get(pk), returns.get(pk, [])
        )  # type: ignore[arg-type]
        problems = differences(stored, replay(events.get(pk, [])))
        if problems:
            yield Mismatch(str(public_id), problems)


def verify_events(*, order_pk: int | None = None) -> Iterator[Mismatch | int]:
    """Yield a Mismatch for each order whose tables differ from its replayed events, then the
    number of orders verified. Read-only; safe on a live system."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        after, count = 0, 0
        while orders := order_state_rows(after=after, limit=BATCH, order_pk=order_pk):
            count += len(orders)
            yield from _check_batch(orders)
            if order_pk is not None:
                break
            after = orders[-1][0]
        yield count
