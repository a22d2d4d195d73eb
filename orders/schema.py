"""OpenAPI examples of the order API, kept out of the views so those stay readable."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiTypes

ORDER_ID = "2b1e0a7e-3c1f-4b5e-9a43-0f3c8f0f5a11"
BASE = "http://127.0.0.1:8000/api/v1/orders/" + ORDER_ID

SEED_REQUEST = OpenApiExample(
    "The seed systems' body",
    value={
        "customer_id": "cust-123",
        "items": [
            {"product_id": "prod-1", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}
        ],
    },
    request_only=True,
)
FULL_REQUEST = OpenApiExample(
    "With address and card token",
    value={
        "items": [{"product_id": "prod-1", "quantity": 2}, {"product_id": "prod-2", "quantity": 1}],
        "shipping_address": {"name": "Ada Lovelace", "line1": "12 St James's Sq", "city": "London"},
        "payment_token": "tok_visa",
    },
    request_only=True,
)
ORDER = {
    "order_id": ORDER_ID,
    "customer_id": "cust-123",
    "status": "pending",
    "status_reason": "",
    "total_cents": 2000,
    "refunded_cents": 0,
    "currency": "USD",
    "items": [
        {
            "product_id": "prod-1",
            "name": "Widget",
            "quantity": 2,
            "unit_price_cents": 1000,
            "line_total_cents": 2000,
        }
    ],
    "shipping_address": {},
    "correlation_id": "7d4b1c52-0a55-4a8e-9d6f-5cbe8e3f2a10",
    "delivered_at": None,
    "version": 1,
    "created_at": "2026-11-25T23:00:00Z",
    "updated_at": "2026-11-25T23:00:00Z",
    "url": BASE + "/",
    "links": {
        "self": BASE + "/",
        "status": BASE + "/status/",
        "events": BASE + "/events/",
        "cancel": BASE + "/cancel/",
        "ship": BASE + "/ship/",
        "deliver": BASE + "/deliver/",
        "returns": BASE + "/returns/",
        "refunds": BASE + "/refunds/",
    },
}
ORDER_RESPONSE = OpenApiExample("An order", value=ORDER, response_only=True)
ORDER_PAGE = OpenApiExample(
    "A page of orders",
    value={
        "next": "http://127.0.0.1:8000/api/v1/orders/?cursor=cD0yMDI2",
        "previous": None,
        "results": [ORDER],
    },
    response_only=True,
)
CANCELLED_RESPONSE = OpenApiExample(
    "Cancelled",
    value={**ORDER, "status": "cancelled", "status_reason": "Cancelled on request."},
    response_only=True,
)
SHIPPED_RESPONSE = OpenApiExample(
    "Shipped by hand", value={**ORDER, "status": "shipped"}, response_only=True
)
STATUS_RESPONSE = OpenApiExample(
    "Status",
    value={"order_id": ORDER_ID, "status": "completed", "status_reason": ""},
    response_only=True,
)
CORRELATION_ID = "7d4b1c52-0a55-4a8e-9d6f-5cbe8e3f2a10"
EVENTS_RESPONSE = OpenApiExample(
    "A timeline, as its customer reads it",
    value=[
        {
            "seq": 1,
            "kind": "order_created",
            "status": "pending",
            "message": "Order placed.",
            "data": {"total_cents": 2000, "items": [{"sku": "prod-1", "quantity": 2}]},
            "correlation_id": CORRELATION_ID,
            "created_at": "2026-11-25T23:00:00Z",
        },
        {
            "seq": 2,
            "kind": "payment_started",
            "status": "payment_processing",
            "message": "Payment started.",
            "data": {},
            "correlation_id": CORRELATION_ID,
            "created_at": "2026-11-25T23:00:00Z",
        },
    ],
    response_only=True,
)
STAFF_EVENTS_RESPONSE = OpenApiExample(
    "A timeline, as staff read it",
    value=[
        {
            "seq": 3,
            "kind": "step_retry",
            "status": "payment_processing",
            "message": None,
            "data": {
                "task": "payments.authorize_payment",
                "attempt": 1,
                "error": "GatewayUnavailableError: 503 from http://127.0.0.1:8071/v1/authorizations",
            },
            "actor": "",
            "correlation_id": CORRELATION_ID,
            "created_at": "2026-11-25T23:00:01Z",
        },
    ],
    response_only=True,
)
SHIP_REQUEST = OpenApiExample(
    "A tracking number", value={"tracking_number": "1Z999AA10123456784"}, request_only=True
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
    OpenApiParameter.HEADER,
    description=(
        "Makes a retried POST safe: the same key with the same body returns the original order and "
        "status (201) without creating another; with another body, 422. Scoped per customer, kept "
        "at least 24 hours."
    ),
)
ORDER_CREATED_HEADERS = [
    OpenApiParameter(
        "Location",
        OpenApiTypes.URI,
        OpenApiParameter.HEADER,
        response=[201],
        description="The order.",
    ),
    OpenApiParameter(
        "Idempotent-Replayed",
        {"type": "string", "enum": ["true"]},
        OpenApiParameter.HEADER,
        response=[201],
        description="Present on a replay of an earlier request with the same Idempotency-Key.",
    ),
    OpenApiParameter(
        "Pipeline-Deferred",
        {"type": "string", "enum": ["true"]},
        OpenApiParameter.HEADER,
        response=[201],
        description=(
            "Present when the order is stored (`pending`) but its processing could not be queued "
            "yet (the message broker was unreachable). Nothing to do: the server queues it as soon "
            "as the broker answers; poll the order as usual, and do not place it again."
        ),
    ),
]
ORDER_ID_PARAM = OpenApiParameter(
    "order_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The order_id."
)
RETURN_ID = "5c0f6d1e-8a3b-4f2e-b7a9-2d4e6f8a0b1c"
RETURN_ID_PARAM = OpenApiParameter(
    "return_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The return_id."
)
RETURN_REQUEST = OpenApiExample(
    "Send one widget back",
    value={"lines": [{"product_id": "prod-1", "quantity": 1}], "reason": "Too small."},
    request_only=True,
)
RETURN_RESPONSE = OpenApiExample(
    "A requested return",
    value={
        "return_id": RETURN_ID,
        "order_id": ORDER_ID,
        "status": "requested",
        "reason": "Too small.",
        "decision_note": "",
        "amount_cents": 1000,
        "lines": [
            {
                "product_id": "prod-1",
                "name": "Widget",
                "quantity": 1,
                "unit_price_cents": 1000,
                "condition": "",
            }
        ],
        "restocked_at": None,
        "version": 1,
        "created_at": "2026-11-28T10:00:00Z",
        "updated_at": "2026-11-28T10:00:00Z",
    },
    response_only=True,
)
