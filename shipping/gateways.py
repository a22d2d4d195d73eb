"""Carrier gateways: the small interface the pipeline needs, and the HTTP adapter behind it.

A carrier creates a shipment for an order (idempotent by order) and can cancel one that has
not left, by its tracking number or, when the booking's answer was lost, by the booking's key.
Unreachable carriers raise GatewayUnavailableError (transient); CARRIER_*_CLASS names the
adapter of each role ("primary", "fallback") and CARRIER_*_URL where it lives.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

from django.conf import settings
from django.utils.module_loading import import_string

from ordersite.breakers import BreakerName, guarded
from ordersite.gateways import GatewayRejectedError, GatewayUnavailableError, get_json, post_json

__all__ = [
    "Booking",
    "Carrier",
    "GatewayRejectedError",
    "GatewayUnavailableError",
    "HttpCarrier",
    "ShipmentResult",
    "Tracking",
]

ROLES = ("primary", "fallback")


@dataclass(frozen=True)
class ShipmentResult:
    carrier: str
    tracking_number: str
    label_reference: str


@dataclass(frozen=True)
class Booking:
    """One parcel as the carrier's books show it (what an audit compares ours with)."""

    order_id: str
    tracking_number: str
    status: str  # "created" or "delivered" (live: not called back), or "cancelled"


@dataclass(frozen=True)
class Tracking:
    """Where a parcel is, as its carrier tells: delivered_at is set once it arrived."""

    tracking_number: str
    status: str
    delivered_at: datetime | None


class Carrier(Protocol):
    name: str

    def create_shipment(
        self, *, order_id: str, address: dict, parcels: list[dict], idempotency_key: str
    ) -> ShipmentResult: ...

    def cancel_shipment(self, *, tracking_number: str, idempotency_key: str) -> None: ...

    def cancel_booking(self, *, booking_key: str, idempotency_key: str) -> bool:
        """Cancel whatever a create_shipment with `booking_key` booked (its answer was lost):
        True if there was such a booking, False if none; either way a booking with that key
        arriving later must not stay live."""
        ...


class HttpCarrier:
    """Our carrier sandboxes' API: POST /v1/shipments (one per order), POST .../<tracking>/cancel,
    POST /v1/shipments/cancel-by-key (404: that key booked nothing)."""

    def __init__(self, name: str, base_url: str | None = None) -> None:
        self.name = name
        self.base_url = (base_url or settings.CARRIER_URLS[name]).rstrip("/")

    def create_shipment(
        self, *, order_id: str, address: dict, parcels: list[dict], idempotency_key: str
    ) -> ShipmentResult:
        body = {"order_id": order_id, "address": address, "parcels": parcels}
        answer = post_json(f"{self.base_url}/v1/shipments", body, idempotency_key=idempotency_key)
        return ShipmentResult(
            carrier=self.name,
            tracking_number=answer["tracking_number"],
            label_reference=answer["label_reference"],
        )

    def cancel_shipment(self, *, tracking_number: str, idempotency_key: str) -> None:
        post_json(
            f"{self.base_url}/v1/shipments/{tracking_number}/cancel",
            {},
            idempotency_key=idempotency_key,
        )

    def cancel_booking(self, *, booking_key: str, idempotency_key: str) -> bool:
        answer = post_json(
            f"{self.base_url}/v1/shipments/cancel-by-key",
            {"idempotency_key": booking_key},
            idempotency_key=idempotency_key,
            ok=frozenset({404}),
        )
        return not answer.get("error")

    def bookings(self) -> list[Booking]:
        """Every parcel the carrier holds (GET /v1/shipments), for the invariant audit. Optional
        for an adapter: without it, the audit skips the comparison with this carrier."""
        return [
            Booking(
                order_id=row["order_id"],
                tracking_number=row["tracking_number"],
                status=row["status"],
            )
            for row in get_json(f"{self.base_url}/v1/shipments")["data"]
        ]

    def tracking(self, *, tracking_number: str) -> Tracking:
        """Where one parcel is (GET /v1/shipments/<tracking>): the delivery poll's question."""
        row = get_json(f"{self.base_url}/v1/shipments/{tracking_number}")
        delivered = row.get("delivered_at")
        return Tracking(
            tracking_number=row["tracking_number"],
            status=row["status"],
            delivered_at=datetime.fromisoformat(delivered) if delivered else None,
        )


def carrier_tracking(role: str, *, tracking_number: str) -> Tracking | None:
    """Ask the `role` carrier where a parcel is; None when its adapter cannot track parcels.
    Read-only, outside the breaker (a poll must not trip the pipeline's breaker); raises
    GatewayUnavailableError when the carrier does not answer."""
    adapter = import_string(settings.CARRIER_CLASSES[role])(name=role)
    return (
        adapter.tracking(tracking_number=tracking_number) if hasattr(adapter, "tracking") else None
    )


def carrier_bookings(role: str) -> list[Booking] | None:
    """The `role` carrier's bookings, read without the breaker; None when its adapter cannot list
    them. Raises GatewayUnavailableError when it does not answer."""
    adapter = import_string(settings.CARRIER_CLASSES[role])(name=role)
    return adapter.bookings() if hasattr(adapter, "bookings") else None


def get_carrier(role: str = "primary") -> Carrier:
    """The configured carrier for `role`, every call behind that carrier's own breaker."""
    carrier = import_string(settings.CARRIER_CLASSES[role])(name=role)
    return cast(Carrier, guarded(carrier, breaker=BreakerName.carrier(role)))
