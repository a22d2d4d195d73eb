"""The error body in the OpenAPI schema: one serializer, and the documented codes with examples."""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, except that fields named in a serializer's `Meta.staff_only_fields`
    are not required: customers' answers leave them out (read-only fields are otherwise always
    required in a response)."""

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        staff_only = set(getattr(getattr(serializer, "Meta", None), "staff_only_fields", ()))
        if staff_only and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in staff_only]
            if not schema["required"]:
                del schema["required"]
        return schema


class ErrorDetailOutput(serializers.Serializer):
    code = serializers.CharField(read_only=True, help_text="snake_case, stable: part of the API.")
    message = serializers.CharField(read_only=True)
    # DRF's metaclass pops declared fields off the class, so these shadow nothing at run time.
    fields = serializers.DictField(  # type: ignore[assignment]
        read_only=True, help_text="Field name -> messages (nested for lists)."
    )
    data = serializers.DictField(read_only=True, help_text="Machine-readable details of the error.")  # type: ignore[assignment]


class ErrorOutput(serializers.Serializer):
    error = ErrorDetailOutput(read_only=True)


# code -> (HTTP status, example message, example fields, example data). Every error code: those of
# DRF's exceptions the handler answers, and every DomainError's, including those only a pipeline
# step raises (seen in the DLQ and the timeline); tests/ordersite/test_error_codes.py holds the
# table to the DomainError subclasses both ways.
ERROR_CODES: dict[str, tuple[int, str, dict[str, Any], dict[str, Any]]] = {
    "invalid": (
        400,
        "The request is invalid; see fields.",
        {"items": {"0": {"quantity": ["Ensure this value is less than or equal to 1000."]}}},
        {"codes": {"items": {"0": {"quantity": ["max_value"]}}}},
    ),
    "parse_error": (400, "JSON parse error - Expecting value: line 1 column 1 (char 0)", {}, {}),
    "request_too_large": (400, "The request body is larger than 262144 bytes.", {}, {}),
    "unknown_product": (
        400,
        "Unknown product(s): prod-999.",
        {"items": ["Unknown product(s): prod-999."]},
        {"skus": ["prod-999"]},
    ),
    "mixed_currency": (
        400,
        "All lines of an order must be priced in one currency; place one order per currency.",
        {
            "items": [
                "All lines of an order must be priced in one currency; "
                "place one order per currency."
            ]
        },
        {"currencies": {"prod-1": "USD", "prod-7": "EUR"}},
    ),
    "unknown_customer": (
        400,
        "customer_id must be your own.",
        {"customer_id": ["customer_id must be your own."]},
        {},
    ),
    "not_authenticated": (401, "Authentication credentials were not provided.", {}, {}),
    "permission_denied": (403, "You do not have permission to perform this action.", {}, {}),
    "not_found": (404, "Not found.", {}, {}),
    "live_server_only": (
        421,
        "Streams and the WebSocket are served by the live server: http://127.0.0.1:8001/api/v1/orders/stream/",
        {},
        {"url": "http://127.0.0.1:8001/api/v1/orders/stream/"},
    ),
    "stale_price": (
        409,
        "The price of prod-1 is now 1200 cents, not 1000.",
        {},
        {"sku": "prod-1", "quoted_unit_price_cents": 1000, "current_unit_price_cents": 1200},
    ),
    "not_cancellable": (
        409,
        "Order 2b1e… is shipped and can no longer be cancelled.",
        {},
        {"order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11", "current_status": "shipped"},
    ),
    "not_shippable": (
        409,
        "Order 2b1e… is reserved; only pending_shipment orders are shipped by hand.",
        {},
        {"order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11", "current_status": "reserved"},
    ),
    "not_deliverable": (
        409,
        "Order 2b1e… is shipped; only a completed order is delivered.",
        {},
        {"order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11", "current_status": "shipped"},
    ),
    "not_in_order": (
        400,
        "Not in this order: prod-9.",
        {"lines": ["Not in this order: prod-9."]},
        {"skus": ["prod-9"]},
    ),
    "not_your_order": (403, "Only the order's customer may ask for a return.", {}, {}),
    "not_returnable": (
        409,
        "Order 2b1e… has not been delivered; it can be returned once it arrives.",
        {},
        {"order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11", "current_status": "completed"},
    ),
    "return_window_closed": (
        409,
        "Returns of order 2b1e… closed on 2026-12-28 10:00 UTC, 30 days after delivery.",
        {},
        {
            "order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11",
            "delivered_at": "2026-11-28T10:00:00+00:00",
            "window_closed_at": "2026-12-28T10:00:00+00:00",
            "return_window_days": 30,
        },
    ),
    "return_quantity_exceeded": (
        409,
        "Only 1 of prod-1 can still be returned (2 bought).",
        {},
        {"sku": "prod-1", "bought": 2, "already_returned": 1, "requested": 2},
    ),
    "invalid_return_transition": (
        409,
        "Return 5c0f… is refused; it cannot become approved.",
        {},
        {
            "return_id": "5c0f6d1e-8a3b-4f2e-b7a9-2d4e6f8a0b1c",
            "current_status": "refused",
            "requested_status": "approved",
        },
    ),
    "not_refundable": (
        409,
        "Order 2b1e… is refunded; it keeps no captured money to refund.",
        {},
        {"order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11", "current_status": "refunded"},
    ),
    "refund_exceeds_captured": (
        409,
        "Only 500 cents of order 2b1e… can still be refunded.",
        {},
        {
            "order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11",
            "requested_cents": 2000,
            "refundable_cents": 500,
        },
    ),
    "out_of_stock": (
        409,
        "Only 3 of prod-1 left.",
        {},
        {"sku": "prod-1", "available": 3, "requested": 5},
    ),
    "payment_not_capturable": (
        409,
        "Shipped order 2b1e… has no authorization left to capture.",
        {},
        {"order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11", "payment_status": "voided"},
    ),
    "capture_refused": (
        409,
        "capture refused for order 2b1e…: do_not_honor",
        {},
        {"order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11", "decline_code": "do_not_honor"},
    ),
    "gateway_rejected": (
        400,
        "http://127.0.0.1:8071/v1/authorizations refused the request (422).",
        {},
        {"status": 422},
    ),
    "dead_letter_not_found": (
        404,
        "No dead letter 7f3a…; it may have been replayed or discarded just now.",
        {},
        {},
    ),
    "dead_letter_not_replayable": (
        409,
        "This entry is malformed, undecodable or truncated and cannot be replayed; discard it.",
        {},
        {},
    ),
    "dead_letter_stale": (
        409,
        "Order 2b1e… is reserved: it no longer waits for payments.authorize_payment. "
        "Discard this entry.",
        {},
        {
            "entry_id": "7f3a…",
            "task": "payments.authorize_payment",
            "order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11",
            "current_status": "reserved",
        },
    ),
    "invalid_transition": (
        409,
        "Order 2b1e… cannot go from completed to cancelled.",
        {},
        {
            "order_id": "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11",
            "current_status": "completed",
            "requested_status": "cancelled",
        },
    ),
    "conflict": (409, "orders.Order 42 was changed by someone else; reload and try again.", {}, {}),
    "idempotency_key_reused": (
        422,
        "This Idempotency-Key was used with a different request body.",
        {},
        {},
    ),
    "throttled": (
        429,
        "Request was throttled. Expected available in 42 seconds.",
        {},
        {"wait": 42},
    ),
    "not_ready": (
        503,
        "Not ready: worker:shipping.",
        {},
        {"checks": {"database": "ok", "worker:shipping": "down"}},
    ),
}
AUTHENTICATED = ("not_authenticated",)


def error_responses(*codes: str) -> dict[int, OpenApiResponse]:
    """drf-spectacular `responses` entries for these error codes, grouped by status, each with
    an example body, so the schema lists every error an endpoint can answer."""
    by_status: dict[int, list[OpenApiExample]] = {}
    for code in codes:
        http_status, message, fields, data = ERROR_CODES[code]
        body = {"error": {"code": code, "message": message, "fields": fields, "data": data}}
        by_status.setdefault(http_status, []).append(
            OpenApiExample(code, value=body, response_only=True, status_codes=[str(http_status)])
        )
    return {
        http_status: OpenApiResponse(
            ErrorOutput, description=", ".join(e.name for e in examples), examples=examples
        )
        for http_status, examples in by_status.items()
    }
