"""verify_events: every order replayed from its events (orders/replay.py) and compared with what
the tables hold, in four streamed queries whatever the number of orders (orders, events,
payments, shipments, each ordered by order pk and merged here), in one REPEATABLE READ snapshot so
that an order changing meanwhile is seen either wholly before or wholly after its change."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from payments.selectors import payment_state_rows
from shipping.selectors import shipment_state_rows

from .replay import differences, replay, stored_state
from .selectors import event_rows, order_state_rows


@dataclass(frozen=True)
class Mismatch:
    order_id: str
    problems: list[str]


class _Merge:
    """One stream of (order pk, ...) rows ordered by order pk, read along with the orders."""

    def __init__(self, rows: Iterator[tuple]) -> None:
        self._rows = rows
        self._head: tuple | None = next(rows, None)

    def take(self, pk: int) -> list[tuple]:
        """The rows of order `pk` (rows of orders before it, which have none left, are skipped)."""
        found = []
        while self._head is not None and self._head[0] <= pk:
            if self._head[0] == pk:
                found.append(self._head[1:])
            self._head = next(self._rows, None)
        return found


def verify_events(*, order_pk: int | None = None) -> Iterator[Mismatch | int]:
    """Yield a Mismatch for each order whose tables differ from its replayed events, then the
    number of orders verified. Read-only; safe on a live system."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        events = _Merge(event_rows(order_pk=order_pk))
        payments = _Merge(payment_state_rows(order_pk=order_pk))
        shipments = _Merge(shipment_state_rows(order_pk=order_pk))
        count = 0
        for pk, public_id, *order in order_state_rows(order_pk=order_pk):
            count += 1
            payment: Any = next(iter(payments.take(pk)), None)
            shipment: Any = next(iter(shipments.take(pk)), None)
            stored = stored_state(tuple(order), payment, shipment)  # type: ignore[arg-type]
            problems = differences(stored, replay(events.take(pk)))
            if problems:
                yield Mismatch(str(public_id), problems)
        yield count
