"""The invariant audit: nothing held, nothing lost, nothing leaked, over the whole database, the
dead-letter queue and the gateways' own ledgers.

`check_invariants()` reads everything in a handful of set-based queries (one per table, grouped
where it can), one pass over the DLQ list and one GET per gateway ledger, then applies the rules
in memory: 100k orders take seconds, not a query each. `audit.py` holds the frame and the rules on
states, dead letters and event numbers; `books.py` money, stock and carriers; `timeline.py` what
customers see. `manage.py check_invariants` prints the report.

An order that is still moving (a change or a timeline event within `window_s`, by default
PIPELINE_STUCK_AFTER_SECONDS, the reconciler's own patience) is not held to the rules that a step
in flight may break for a moment (a compensation not yet run, a booking not yet recorded).
"""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from .audit import RULES, SETTLING_RULES, Audit, Breach, Report
from .books import check_books
from .parcels import check_parcels
from .stock import check_stock
from .timeline import INTERNALS, check_customer_timelines, customer_timeline

__all__ = [
    "INTERNALS",
    "RULES",
    "SETTLING_RULES",
    "Breach",
    "Report",
    "check_invariants",
    "customer_timeline",
]


def check_invariants(
    *, since: datetime | None = None, window_s: float | None = None, ledgers: bool = True
) -> Report:
    """Audit every order (or those created since `since`, with the products, DLQ entries and
    ledger entries they touch). `window_s`: how long an order may still be moving (default
    PIPELINE_STUCK_AFTER_SECONDS; 0 holds every order to every rule now). `ledgers=False` skips
    the gateways. Read-only: safe to run on a live system."""
    window = settings.PIPELINE_STUCK_AFTER_SECONDS if window_s is None else window_s
    audit = Audit(since=since, window_s=window, now=timezone.now())
    audit.check_states()
    audit.check_dead_letters()
    audit.check_sequences()
    check_books(audit, ledgers=ledgers)
    check_stock(audit)
    check_parcels(audit, ledgers=ledgers)
    check_customer_timelines(audit)
    audit.report.breaches = sorted(
        audit.drop_settling(), key=lambda b: (b.rule, b.order_id or "", b.product or "")
    )
    return audit.report
