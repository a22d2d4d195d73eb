"""The audit's rules on money, stock and parcels: our books against themselves and against the
payment gateway's and the carriers' own ledgers (read once each, over their APIs).

Other apps' rows come through their selectors as plain dicts, each one grouped query over the
orders in scope; the joins happen here, in memory, by order."""

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from inventory import selectors as inventory_selectors
from ordersite.gateways import GatewayUnavailableError
from payments import selectors as payment_selectors
from shipping import selectors as shipping_selectors

from ..models import OrderItem
from ..pipeline import parse_step_key
from ..states import FULFILLED, TERMINAL, OrderStatus
from .audit import Audit, OrderRow

if TYPE_CHECKING:
    from payments.gateways import LedgerEntry
    from shipping.gateways import Booking

FINISHED_UNCOMPLETED = TERMINAL - FULFILLED
SHIPPED = frozenset({OrderStatus.SHIPPED}) | FULFILLED
ENDED = frozenset({"captured", "voided", "partially_refunded", "refunded"})
# A parcel not called back: on its way ("created") or arrived ("delivered").
LIVE_STATUSES = frozenset({"created", "delivered"})
LIVE = "created"  # our own Shipment rows: a delivery sets delivered_at, not the status


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
    _check_stock(audit)
    _check_parcels(audit, _carrier_ledgers(audit) if ledgers else {})


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


# --- stock --------------------------------------------------------------------------------------
def _check_stock(audit: Audit) -> None:
    products = (
        None
        if audit.since is None
        else OrderItem.objects.filter(order__in=audit.scope_pks).values("product_id")
    )
    rows = inventory_selectors.stock_audit_rows(product_ids=products)
    audit.report.checked["products"] = len(rows)
    for product in rows:
        if product["reserved"] != product["held"]:
            detail = f"reserved {product['reserved']}, held reservations sum to {product['held']}"
            audit.flag("stock.reserved_mismatch", detail, product=product["sku"])
        if not product["on_hand"] >= product["reserved"] >= 0:
            detail = f"on_hand {product['on_hand']}, reserved {product['reserved']}"
            audit.flag("stock.oversold", detail, product=product["sku"])
    held: dict[int, dict[int, int]] = defaultdict(dict)
    committed: dict[int, dict[int, int]] = defaultdict(dict)
    for row in inventory_selectors.reservation_audit_rows(order_pks=audit.scope_pks):
        target = (
            held if row["status"] == "held" else committed if row["status"] == "committed" else None
        )
        if target is not None:
            target[row["order_id"]][row["product_id"]] = row["quantity"]
    shipped_items: dict[int, dict[int, int]] = defaultdict(dict)
    lines = OrderItem.objects.filter(order__in=audit.scope.filter(status__in=SHIPPED)).order_by()
    for order_pk, product_id, quantity in lines.values_list("order_id", "product_id", "quantity"):
        shipped_items[order_pk][product_id] = quantity
    for pk in held.keys() | committed.keys() | shipped_items.keys():
        _check_order_stock(
            audit,
            audit.orders[pk],
            held.get(pk, {}),
            committed.get(pk, {}),
            shipped_items.get(pk, {}),
        )


def _check_order_stock(
    audit: Audit,
    order: OrderRow,
    held: dict[int, int],
    committed: dict[int, int],
    shipped: dict[int, int],
) -> None:
    if order.status in FINISHED_UNCOMPLETED and held:
        audit.flag(
            "stock.held_after_terminal",
            f"{order.status} order holds {sum(held.values())} unit(s)",
            order=order,
        )
    if order.status in SHIPPED and (committed != shipped or held):
        detail = (
            f"shipped {_units(shipped)}, committed {_units(committed)}, still held {_units(held)}"
        )
        audit.flag("stock.committed_mismatch", detail, order=order)
    elif order.status not in SHIPPED and committed:
        audit.flag(
            "stock.committed_mismatch",
            f"{order.status} order committed {_units(committed)}",
            order=order,
        )


def _units(lines: dict[int, int]) -> str:
    return "{" + ", ".join(f"product {pid}: {qty}" for pid, qty in sorted(lines.items())) + "}"


# --- parcels ------------------------------------------------------------------------------------
def _carrier_ledgers(audit: Audit) -> dict[str, list["Booking"]]:
    try:
        ledgers = shipping_selectors.carrier_ledgers()
    except GatewayUnavailableError as exc:
        audit.flag("ledger.unreachable", f"carrier: {exc}")
        return {}
    for role, bookings in ledgers.items():
        if bookings is None:
            audit.report.skipped.append(f"the {role} carrier's adapter cannot list its bookings")
        else:
            audit.report.checked[f"{role} carrier bookings"] = len(bookings)
    return {role: bookings for role, bookings in ledgers.items() if bookings is not None}


def _check_parcels(audit: Audit, ledgers: dict[str, list["Booking"]]) -> None:
    shipments = {
        row["order_id"]: row
        for row in shipping_selectors.shipment_audit_rows(order_pks=audit.scope_pks)
    }
    live_at: dict[str, set[str]] = {role: set() for role in ledgers}
    for role, bookings in ledgers.items():
        for booking in (b for b in bookings if b.status in LIVE_STATUSES):
            live_at[role].add(booking.tracking_number)
            _check_booking(audit, role, booking, shipments)
    for pk, order in audit.orders.items():
        ours = shipments.get(pk)
        if order.status in SHIPPED:
            if ours is None or ours["status"] != LIVE:
                detail = f"{order.status} order without a live shipment of ours"
                audit.flag("shipping.booking_missing", detail, order=order)
            elif (
                ours["carrier"] in live_at
                and ours["tracking_number"] not in live_at[ours["carrier"]]
            ):
                detail = (
                    f"our parcel {ours['tracking_number']}"
                    f" is not live at the {ours['carrier']} carrier"
                )
                audit.flag("shipping.booking_missing", detail, order=order)
        elif ours is not None and ours["status"] == LIVE and order.status in TERMINAL:
            detail = f"our shipment {_shipment(ours)} is live for a {order.status} order"
            audit.flag("shipping.live_booking", detail, order=order)


def _check_booking(
    audit: Audit, role: str, booking: "Booking", shipments: dict[int, dict[str, Any]]
) -> None:
    """A parcel live at a carrier belongs to an order shipped through that carrier, as ours says."""
    where = f"live parcel {booking.tracking_number} at the {role} carrier"
    pk = audit.by_public_id.get(booking.order_id)
    if pk is None:
        if audit.since is None:  # scoped, it may be an older order's
            audit.flag("shipping.live_booking", f"{where} for no order we have")
        return
    order, ours = audit.orders[pk], shipments.get(pk)
    if (
        order.status in SHIPPED
        and ours
        and (ours["carrier"], ours["tracking_number"]) == (role, booking.tracking_number)
    ):
        return
    theirs = f"ours: {_shipment(ours)}" if ours else "no shipment of ours"
    audit.flag(
        "shipping.live_booking", f"{where} for a {order.status} order ({theirs})", order=order
    )


def _shipment(row: dict[str, Any]) -> str:
    return f"{row['carrier']} {row['tracking_number']} {row['status']}"
