"""Findings of issue 13 ("Nothing held, nothing lost, nothing leaked") that other branches are
fixing. Tests that the audit or the chaos runs fail today name their finding here and are
marked xfail(strict=False) with it: once the fix is merged, delete the entry and the xfail goes.
"""

CUSTOMER_INTERNALS = (
    "finding: customers see internals (gateway references, exception names, URLs, staff usernames "
    "in GET /orders/{id}/events/)"
)

RECONCILER_RESENDS_PARKED = (
    "finding: the reconciler re-sends orders parked in the DLQ (the order completes with its entry "
    "still live; a staff discard races the re-sent step and leaves an authorization held)"
)
PRIMARY_TIMEOUT_LEFT_LIVE = (
    "finding: a primary-carrier booking whose answer timed out stays live after the fallback ships "
    "(or the order is cancelled)"
)
BREAKER_OPENED_BY_CARDS = (
    "finding: card processing errors (tok_processing_error) open the payment breaker, and orders "
    "with good cards are dead-lettered"
)
BROKER_DOWN_500 = "finding: with the broker down, POST /orders/ answers 500 although the order was committed"
DUPLICATE_AUTHORIZE_COMPENSATES = (
    "finding: a duplicate authorize (a re-sent step) compensates a live order: its stock is released, "
    "so nothing is committed when it ships"
)
