"""Findings of issue 13 ("Nothing held, nothing lost, nothing leaked") that other branches are
fixing. Tests that the audit or the chaos runs fail today name their finding here and are
marked xfail(strict=False) with it: once the fix is merged, delete the entry and the xfail goes.
"""

CUSTOMER_INTERNALS = (
    "finding: customers see internals (gateway references, exception names, URLs, staff usernames "
    "in GET /orders/{id}/events/)"
)
