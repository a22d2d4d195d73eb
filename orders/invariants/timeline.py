"""The audit's rule on what customers see of a timeline: no internals (URLs, exception names,
'Error:', tracebacks, DLQ entry ids, gateway references, staff usernames).

The rule judges the customer's projection (orders/visibility.py), never the raw events (staff
keep the full story), and reaches it through one function, `customer_timeline`, which does what
the events API does for a customer. Projecting every event of 100k orders would take
minutes, so one SQL query first picks the events whose raw text could leak anything (a superset:
a projection only removes or rewrites); only those are projected and searched.
"""

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from payments import selectors as payment_selectors

from .. import visibility
from ..models import Order, OrderEvent
from ..serializers import OrderEventOutput
from .audit import Audit

# What may not reach a customer, by name; searched in the JSON a customer receives.
INTERNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a URL", re.compile(r"\bhttps?://[^\s\"']+")),
    ("an exception class name", re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception|Timeout)\b")),
    ("'Error:'", re.compile(r"Error:")),
    ("a traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("a DLQ entry id", re.compile(r"\b[0-9a-f]{32}\b")),
)
# The same, loosened, in PostgreSQL's regex syntax: raw events matching none cannot leak these.
RAW_SUSPECT = r"(https?://|Error|Exception|Timeout|Traceback|[0-9a-f]{32})"


# One serializer for every event: building its fields costs more than serializing one event.
_CUSTOMER_EVENT = OrderEventOutput()


def customer_timeline(events: list[OrderEvent]) -> list[dict[str, Any]]:
    """An order's events exactly as its customer receives them from GET /orders/{id}/events/:
    the public projection of orders/visibility.py (kinds a customer never sees left out) through
    the view's serializer. The one place to repoint if the API changes how it projects."""
    shown = (visibility.public_event(event) for event in events)
    return [dict(_CUSTOMER_EVENT.to_representation(item)) for item in shown if item is not None]


def check_customer_timelines(audit: Audit) -> None:
    staff = set(get_user_model().objects.filter(is_staff=True).values_list("username", flat=True))
    references = _gateway_references(audit)
    events: dict[int, list[OrderEvent]] = defaultdict(list)
    for event in _suspect_events(audit, staff, references):
        events[event.order_id].append(event)
    audit.report.checked["suspect events projected"] = sum(len(v) for v in events.values())
    for pk, order_events in events.items():
        leaks = []
        for shown in customer_timeline(order_events):
            found = _internals_in(shown, staff, references.get(pk, set()))
            if found:
                leaks.append(f"#{shown.get('seq')} {shown.get('kind')}: " + ", ".join(found))
        if leaks:
            audit.flag(
                "timeline.customer_internals", "; ".join(leaks)[:1000], order=audit.orders[pk]
            )


def _gateway_references(audit: Audit) -> dict[int, set[str]]:
    refs: dict[int, set[str]] = defaultdict(set)
    for row in payment_selectors.payment_audit_rows(order_pks=audit.scope_pks):
        if row["gateway_reference"]:
            refs[row["order_id"]].add(row["gateway_reference"])
    return refs


def _internals_in(shown: dict[str, Any], staff: set[str], references: set[str]) -> list[str]:
    values = list(_strings(shown))
    text = "\n".join(values)
    found = [
        f"{name} {match.group(0)!r}"
        for name, pattern in INTERNALS
        if (match := pattern.search(text))
    ]
    found += [f"the gateway reference {ref!r}" for ref in sorted(references) if ref in text]
    found += [f"the staff username {name!r}" for name in sorted(set(values) & staff)]
    return found


def _strings(value: Any) -> Iterator[str]:
    """Every scalar a customer receives, as text (keys are the API's own names)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def _suspect_events(
    audit: Audit, staff: set[str], references: dict[int, set[str]]
) -> list[OrderEvent]:
    """Events of the orders in scope whose raw data or actor could leak something: one query
    (the gateway references joined per order, as arrays, not a query per order)."""
    events, orders = OrderEvent._meta.db_table, Order._meta.db_table
    pairs = [(pk, ref) for pk, refs in references.items() for ref in refs]
    scope = "" if audit.since is None else "AND o.created_at >= %(since)s"
    columns = ("id", "order_id", "seq", "kind", "status", "actor", "correlation_id", "created_at")
    sql = f"""
        SELECT {", ".join(f"e.{c}" for c in columns)}, e.data::text FROM {events} e WHERE e.id IN (
            SELECT e.id FROM {events} e JOIN {orders} o ON o.id = e.order_id
            WHERE (e.data::text ~ %(suspect)s OR e.actor = ANY(%(staff)s)
                   OR e.data::text LIKE ANY(%(staff_like)s))
            {scope}
            UNION
            SELECT e.id FROM {events} e
            JOIN unnest(%(ref_orders)s::bigint[], %(refs)s::text[]) AS r(order_id, ref)
              ON r.order_id = e.order_id
            WHERE strpos(e.data::text, r.ref) > 0
        ) ORDER BY e.order_id, e.seq
    """  # noqa: S608  (table names from the models; values are parameters)
    params = {
        "suspect": RAW_SUSPECT,
        "staff": sorted(staff),
        "staff_like": [f'%"{_like_escape(name)}"%' for name in sorted(staff)],
        "since": audit.since,
        "ref_orders": [pk for pk, _ in pairs],
        "refs": [ref for _, ref in pairs],
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Plain instances (no queryset machinery: it costs more than the rule for 100k events).
    return [
        OrderEvent(**dict(zip(columns, row[:-1], strict=True)), data=json.loads(row[-1]))
        for row in rows
    ]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
