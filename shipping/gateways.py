"""Carrier gateways: the small interface the pipeline needs, and the adapters behind it.

A carrier creates a shipment for an order (idempotent by its key) and can cancel one that has
not left. Unreachable carriers raise GatewayUnavailableError (transient).
"""

import hashlib
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from ordersite.errors import TransientError


class GatewayUnavailableError(TransientError):
    """The carrier could not be reached or answered 5xx: retry later, or try the fallback."""


@dataclass(frozen=True)
class ShipmentResult:
    carrier: str
    tracking_number: str
    label_reference: str


class Carrier(Protocol):
    name: str

    def create_shipment(
        self, *, order_id: str, address: dict, parcels: list[dict], idempotency_key: str
    ) -> ShipmentResult: ...

    def cancel_shipment(self, *, tracking_number: str, idempotency_key: str) -> None: ...


class InProcessCarrier:
    """A deterministic carrier living in the worker process: the tracking number derives from
    the idempotency key, so a repeated request returns the same shipment."""

    def __init__(self, name: str = "in-process") -> None:
        self.name = name

    def create_shipment(
        self, *, order_id: str, address: dict, parcels: list[dict], idempotency_key: str
    ) -> ShipmentResult:
        digest = hashlib.sha256(f"{self.name}:{idempotency_key}".encode()).hexdigest()
        return ShipmentResult(
            carrier=self.name, tracking_number=f"TRK{digest[:12].upper()}", label_reference=f"label_{digest[12:28]}"
        )

    def cancel_shipment(self, *, tracking_number: str, idempotency_key: str) -> None:
        return None


def get_carrier(role: str = "primary") -> Carrier:
    """The configured carrier for `role` ("primary" or "fallback"), from CARRIER_CLASSES."""
    return import_string(settings.CARRIER_CLASSES[role])(name=role)
