"""The audit's rules on money: our payments against themselves and against the payment gateway's
own ledger (read once, over its API). Stock is in stock.py, parcels in parcels.py.

Other apps' rows come through their selectors as plain dicts, each one grouped query over the
orders in scope; the joins happen here, in memory, by order."""

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ordersite.gateways import GatewayUnavailableError
from payments import selectors as payment_selectors

from ..pipeline import parse_step_key
from ..states import FULFILLED, OrderStatus
from .audit import FINISHED_UNCOMPLETED, Audit, OrderRow

if TYPE_CHECKING:
    from payments.gateways import LedgerEntry

ENDED = frozenset({"captured", "voided", "partially_refunded", "refunded"})


def check_books(audit: Audit, *, ledgers: bool) -> None:
    payments = {
        row["order_id"]: row
        for row in payment_selectors.payment_audit_rows(order_pks=audit.scope_pks)
    }
    ledger = _payment_ledger(audit) if ledgers else None
    by_order = _ledger_by_order(audit, ledger, payments) if ledger is not None else {}
    if ledger is not None:
        _check_ledger(audit, ledger, by_order, payments)
    _check_payments(audit, payments, by_order, captured_events=audit.captured_events())
    _check_refunds(audit, payments, by_order)


# --- money --------------------------------------------------------------------------------------
def _payment_ledger(audit: Audit) -> list["LedgerEntry"] | None:
    try:
        ledger = payment_selectors.gateway_ledger()
    except GatewayUnavailableError as exc:
        audit.flag("ledger.unreachable", f"payment gateway: {exc}")
        return None
    if ledger is None:
        audit.report.skipped.append("the payment adapter cannot list its ledger")
        return None
    audit.report.checked["gateway authorizations"] = len(ledger)
    return ledger


def _ledger_by_order(
    audit: Audit, ledger: list["LedgerEntry"], payments: dict[int, dict[str, Any]]
) -> dict[int, list["LedgerEntry"]]:
    """The gateway's authorizations of each order in scope: by the reference our payment row
    keeps, else by the merchant key the gateway kept (`<order>:<step>`). Entries of orders out of
    scope are left out; those of no order at all are unknown charges."""
    ours = {
        row["gateway_reference"]: pk for pk, row in payments.items() if row["gateway_reference"]
    }
    grouped: dict[int, list[LedgerEntry]] = defaultdict(list)
    strays = []
    for entry in ledger:
        pk = ours.get(entry.reference) or audit.by_public_id.get(
            parse_step_key(entry.idempotency_key)[0]
        )
        if pk is not None:
            grouped[pk].append(entry)
        else:
            strays.append(entry)
    if audit.since is None:
        for entry in strays:
            audit.flag("ledger.unknown", f"{_describe(entry)} belongs to no order we have")
    return grouped


def _describe(entry: "LedgerEntry") -> str:
    return f"gateway authorization {entry.reference} ({entry.status}, {entry.amount_cents} cents)"


def _check_ledger(
    audit: Audit,
    ledger: list["LedgerEntry"],
    by_order: dict[int, list["LedgerEntry"]],
    payments: dict[int, dict],
) -> None:
    known = {entry.reference for entry in ledger}
    for pk, row in payments.items():
        if row["gateway_reference"] and row["gateway_reference"] not in known:
            detail = (
                f"our {row['status']} payment {row['gateway_reference']} is unknown to the gateway"
            )
            audit.flag("ledger.missing", detail, order=audit.orders[pk])
    for pk, entries in by_order.items():
        order, row = audit.orders[pk], payments.get(pk)
        if len(entries) > 1:
            refs = ", ".join(f"{e.reference} ({e.status})" for e in entries)
            audit.flag(
                "ledger.duplicate",
                f"authorized {len(entries)} times at the gateway: {refs}",
                order=order,
            )
        charged = [e for e in entries if e.captured_cents + e.refunded_cents > 0]
        if len(charged) > 1 or sum(e.captured_cents for e in charged) > order.total_cents:
            detail = (
                f"charged {len(charged)} time(s), {sum(e.captured_cents for e in charged)} cents"
            )
            audit.flag(
                "money.double_charge", f"{detail} for a total of {order.total_cents}", order=order
            )
        for entry in entries:
            if entry.status in ENDED and _settled(entry) != entry.amount_cents:
                audit.flag(
                    "money.unbalanced",
                    f"at the gateway, {_describe(entry)}: {_split(entry)}",
                    order=order,
                )
            if row is None or row["gateway_reference"] != entry.reference:
                audit.flag("ledger.unknown", f"{_describe(entry)} is not in our books", order=order)
            elif _differences(row, entry) and not audit.is_parked(order):
                audit.flag(
                    "ledger.mismatch", f"{entry.reference}: {_differences(row, entry)}", order=order
                )


def _settled(row: Any) -> int:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return get("captured_cents") + get("voided_cents") + get("refunded_cents")


def _split(row: Any) -> str:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return (
        f"authorized {get('amount_cents')}, captured {get('captured_cents')}"
        f" + voided {get('voided_cents')} + refunded {get('refunded_cents')}"
    )


def _differences(row: dict[str, Any], entry: "LedgerEntry") -> str:
    names = ("status", "amount_cents", "captured_cents", "voided_cents", "refunded_cents")
    return ", ".join(
        f"{name} ours {row[name]}, gateway {getattr(entry, name)}"
        for name in names
        if row[name] != getattr(entry, name)
    )


def _check_payments(
    audit: Audit,
    payments: dict[int, dict],
    by_order: dict[int, list["LedgerEntry"]],
    *,
    captured_events: dict[int, int],
) -> None:
    for pk, order in audit.orders.items():
        row = payments.get(pk)
        if row is not None and row["status"] in ENDED and _settled(row) != row["amount_cents"]:
            audit.flag("money.unbalanced", f"payment {row['status']}: {_split(row)}", order=order)
        if order.status in FULFILLED:
            _check_captured_once(audit, order, row, captured_events.get(pk, 0))
        elif order.status in FINISHED_UNCOMPLETED:
            _check_nothing_held(audit, order, row, by_order.get(pk, []))


def _check_captured_once(audit: Audit, order: OrderRow, row: dict | None, events: int) -> None:
    problems = []
    if row is None:
        problems.append("no payment")
    elif (
        row["status"] not in CAPTURED_ONCE
        or row["amount_cents"] != order.total_cents
        or row["captured_cents"] + row["refunded_cents"] != order.total_cents
    ):
        problems.append(
            f"payment {row['status']}, {row['captured_cents']} kept"
            f" + {row['refunded_cents']} refunded of {row['amount_cents']} cents"
        )
    if events != 1:
        problems.append(f"{events} payment_captured events")
    if problems:
        detail = f"total {order.total_cents} cents: " + "; ".join(problems)
        audit.flag("money.completed_not_captured_once", detail, order=order)


CAPTURED_ONCE = frozenset({"captured", "partially_refunded", "refunded"})


def _check_refunds(
    audit: Audit, payments: dict[int, dict], by_order: dict[int, list["LedgerEntry"]]
) -> None:
    """captured = refunded + kept, per order: the order's refunded amount is its payment's and its
    succeeded refunds' (and the gateway's, when it was read); the status follows the money."""
    refunds = {
        row["order_id"]: row
        for row in payment_selectors.refund_audit_rows(order_pks=audit.scope_pks)
    }
    for pk, order in audit.orders.items():
        row, sums = payments.get(pk), refunds.get(pk, {"succeeded": 0, "pending": 0})
        refunded = row["refunded_cents"] if row else 0
        problems = []
        if order.refunded_cents != refunded or sums["succeeded"] != refunded:
            problems.append(
                f"order shows {order.refunded_cents} cents refunded, payment {refunded},"
                f" succeeded refunds {sums['succeeded']}"
            )
        if row is not None and row["refunding_cents"] != sums["pending"]:
            problems.append(
                f"payment promises {row['refunding_cents']} cents,"
                f" pending refunds {sums['pending']}"
            )
        gateway = [
            e for e in by_order.get(pk, []) if row and e.reference == row["gateway_reference"]
        ]
        if gateway and gateway[0].refunded_cents != refunded:
            problems.append(f"gateway refunded {gateway[0].refunded_cents} cents, we {refunded}")
        expected = _status_for_refunds(order, refunded)
        if expected is not None and order.status != expected:
            problems.append(
                f"{order.status} order with {refunded} of {order.total_cents} cents refunded"
            )
        if problems:
            audit.flag("money.refund_mismatch", "; ".join(problems), order=order)


def _status_for_refunds(order: OrderRow, refunded: int) -> str | None:
    """The status an order in FULFILLED must have for what it refunded; None for any other."""
    if order.status not in FULFILLED:
        return None
    if refunded == 0:
        return (
            order.status
            if order.status in (OrderStatus.COMPLETED, OrderStatus.DELIVERED)
            else "completed or delivered"
        )
    return OrderStatus.REFUNDED if refunded >= order.total_cents else OrderStatus.PARTIALLY_REFUNDED


def _check_nothing_held(
    audit: Audit, order: OrderRow, row: dict | None, entries: list["LedgerEntry"]
) -> None:
    held = []
    if row is not None and row["status"] == "authorized":
        held.append(f"our payment {row['gateway_reference']} is still authorized")
    if row is not None and row["captured_cents"]:
        held.append(f"we captured {row['captured_cents']} cents")
    for entry in entries:
        if entry.status == "authorized":
            held.append(f"{entry.reference} is still authorized at the gateway")
        elif entry.captured_cents:
            held.append(f"{entry.reference} captured {entry.captured_cents} cents at the gateway")
    if held:
        audit.flag(
            "money.held_after_terminal", f"{order.status} order: " + "; ".join(held), order=order
        )
