"""The audit's rules on parcels: our shipments against the carriers' own ledgers (read once each,
over their APIs): one live parcel per shipped order, none for an order that ended without it."""

from typing import TYPE_CHECKING, Any

from ordersite.gateways import GatewayUnavailableError
from shipping import selectors as shipping_selectors

from ..states import TERMINAL
from .audit import SHIPPED, Audit

if TYPE_CHECKING:
    from shipping.gateways import Booking

# A parcel not called back: on its way ("created") or arrived ("delivered").
LIVE_STATUSES = frozenset({"created", "delivered"})
LIVE = "created"  # our own Shipment rows: a delivery sets delivered_at, not the status


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


def check_parcels(audit: Audit, *, ledgers: bool) -> None:
    _check_parcels(audit, _carrier_ledgers(audit) if ledgers else {})


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
