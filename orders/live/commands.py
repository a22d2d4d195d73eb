"""Seed 004's WebSocket commands, with the same rules as the REST endpoints they mirror:
PlaceOrder is POST /api/v1/orders/ (same input serializer, services and throttle), CancelOrder is
POST .../cancel/, ShipOrder (staff) is POST .../ship/. Synchronous: run through `run_sync`.

Every refusal is raised as the exception the REST view would raise, and turned into the REST
error body by the one exception handler, so codes and messages are the API's."""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from rest_framework.exceptions import ParseError, Throttled, ValidationError

from ordersite.errors import exception_handler
from ordersite.parsers import BodyTooDeepError, RequestTooLargeError, json_depth
from ordersite.throttling import OrderCreateThrottle
from shipping import services as shipping_services
from shipping.serializers import OrderShipInput

from .. import selectors, services
from ..serializers import OrderCreateInput

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _valid(serializer_class: type, body: dict[str, Any]) -> dict[str, Any]:
    incoming = serializer_class(data=body)
    incoming.is_valid(raise_exception=True)
    return incoming.validated_data


def _order_id(body: dict[str, Any]) -> str:
    order_id = body.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise ValidationError({"order_id": ["This field is required."]})
    return order_id


class _Caller:
    """What OrderCreateThrottle reads of a request: the user."""

    def __init__(self, user: "AbstractBaseUser") -> None:
        self.user = user
        self.META: dict[str, str] = {}


def place_order(user: "AbstractBaseUser", body: dict[str, Any]) -> None:
    throttle = OrderCreateThrottle()
    if not throttle.allow_request(_Caller(user), None):
        raise Throttled(wait=throttle.wait())
    data = _valid(OrderCreateInput, body)
    customer = services.resolve_customer(requester=user, customer_id=data.get("customer_id"))
    services.place_order(
        customer=customer,
        items=data["items"],
        shipping_address=data.get("shipping_address"),
        payment_token=data["payment_token"],
        actor=user.get_username(),
    )


def cancel_order(user: "AbstractBaseUser", body: dict[str, Any]) -> None:
    order = selectors.order_detail(user=user, order_id=_order_id(body))
    services.cancel_order(order=order, actor=user.get_username())


def ship_order(user: "AbstractBaseUser", body: dict[str, Any]) -> None:
    if not user.is_staff:
        raise PermissionDenied
    data = _valid(OrderShipInput, body)
    order = selectors.order_detail(user=user, order_id=_order_id(body))
    shipping_services.ship_order_by_hand(
        order=order, tracking_number=data["tracking_number"], actor=user.get_username()
    )


COMMANDS: dict[str, Callable[["AbstractBaseUser", dict[str, Any]], None]] = {
    "PlaceOrder": place_order,
    "CancelOrder": cancel_order,
    "ShipOrder": ship_order,
}


def parse(text: str | bytes) -> dict[str, Any]:
    """A client message as a dict with a `type`, within the REST API's size and depth limits."""
    if len(text) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise RequestTooLargeError(
            f"The message is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    try:
        message = json.loads(text)
    except RecursionError:
        raise BodyTooDeepError(settings.API_MAX_JSON_DEPTH) from None
    except ValueError as exc:
        raise ParseError(f"The message is not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValidationError(
            {"type": ['A message is a JSON object with a "type": command, ping or pong.']}
        )
    # The command's body sits two levels down ({"action": {"PlaceOrder": body}}).
    if json_depth(message) > settings.API_MAX_JSON_DEPTH + 2:
        raise BodyTooDeepError(settings.API_MAX_JSON_DEPTH)
    return message


def run(user: "AbstractBaseUser", action: Any) -> None:
    """Run a `command` message's action: {"PlaceOrder": {...}} and the like."""
    if not isinstance(action, dict) or len(action) != 1:
        raise ValidationError(
            {"action": [f"An action is an object with one command: {', '.join(COMMANDS)}."]}
        )
    ((name, body),) = action.items()
    if name not in COMMANDS:
        raise ValidationError(
            {"action": [f"Unknown command {name!r}; one of {', '.join(COMMANDS)}."]}
        )
    if not isinstance(body, dict):
        raise ValidationError({"action": [f"The body of {name} must be an object."]})
    COMMANDS[name](user, body)


def error_message(exc: Exception) -> dict[str, Any]:
    """A refusal as the REST API would answer it: {"message", "code", "fields", "data"}."""
    response = exception_handler(exc, {"view": None})
    error = response.data["error"]
    message = error["message"]
    if error["fields"]:
        # A seed client reads only `message`: say there what is wrong.
        message = (
            f"{message.removesuffix(' see fields.').rstrip(';')}: {json.dumps(error['fields'])}"
        )
    return {
        "message": message,
        "code": error["code"],
        "fields": error["fields"],
        "data": error["data"],
    }
