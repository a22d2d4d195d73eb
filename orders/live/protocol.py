"""How an event reads on the wire: seed 004's WebSocket `event` messages and our SSE lines."""

import json
from typing import Any

from ..states import EventKind
from .hub import LiveEvent

K = EventKind
# Seed 004 names its events OrderPlaced, OrderShipped, OrderCancelled; the pipeline's steps get
# names in the same voice. Any other kind is its own name in PascalCase (payment_captured ->
# PaymentCaptured), so a new kind needs no entry here.
ACTION_NAMES: dict[str, str] = {
    K.ORDER_CREATED: "OrderPlaced",
    K.PAYMENT_AUTHORIZED: "OrderPaid",
    K.STOCK_RESERVED: "OrderReserved",
    K.ORDER_SHIPPED: "OrderShipped",
    K.ORDER_COMPLETED: "OrderCompleted",
    K.ORDER_CANCELLED: "OrderCancelled",
    K.ORDER_FAILED: "OrderFailed",
    K.ORDER_DELIVERED: "OrderDelivered",
}


def action_name(kind: str) -> str:
    return ACTION_NAMES.get(kind) or "".join(part.capitalize() for part in kind.split("_"))


def seed_action(event: LiveEvent, view: dict[str, Any], *, customer_id: str) -> dict[str, Any]:
    """The `action` of an `event` message: {"OrderPlaced": {order_id, customer_id, items,
    total_cents, ...}}. The seed's own fields are lifted from the event's visible data (items as
    product_id and quantity, total_cents, tracking_number, a cancellation's reason); the
    timeline entry's fields (seq, kind, status, message, data, created_at) come along."""
    data = view.get("data") or {}
    body: dict[str, Any] = {"order_id": event.order_id, "customer_id": customer_id}
    if isinstance(data.get("items"), list):
        body["items"] = [
            {"product_id": line.get("sku"), "quantity": line.get("quantity")}
            for line in data["items"]
            if isinstance(line, dict)
        ]
    for name in ("total_cents", "amount_cents", "tracking_number"):
        if name in data:
            body[name] = data[name]
    if event.kind == K.ORDER_CANCELLED:
        body["reason"] = view.get("message")
    body.update(view)
    return {action_name(event.kind): body}


def ws_event(
    event: LiveEvent, view: dict[str, Any], *, customer_id: str, event_id: str | int
) -> str:
    return json.dumps(
        {
            "type": "event",
            "id": event_id,
            "action": seed_action(event, view, customer_id=customer_id),
        }
    )


def ws_error(message: str, **details: Any) -> str:
    return json.dumps({"type": "error", "message": message, **details})


def sse_event(event: LiveEvent, view: dict[str, Any], *, event_id: str | int | None) -> bytes:
    """One SSE message: `id:` (the resume position), and the timeline entry with its order."""
    lines = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps({"order_id": event.order_id, **view}, separators=(",", ":"))
    return f"{lines}data: {body}\n\n".encode()
