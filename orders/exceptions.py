"""Errors the order domain raises; each code is part of the API."""

from rest_framework import status

from ordersite.errors import DomainError


class InvalidTransitionError(DomainError):
    code = "invalid_transition"
    http_status = status.HTTP_409_CONFLICT


class OrderNotCancellableError(DomainError):
    code = "not_cancellable"
    http_status = status.HTTP_409_CONFLICT


class UnknownProductError(DomainError):
    code = "unknown_product"
    http_status = status.HTTP_400_BAD_REQUEST


class MixedCurrencyError(DomainError):
    """The lines are priced in different currencies: one order has one total, in one currency."""

    code = "mixed_currency"
    http_status = status.HTTP_400_BAD_REQUEST


class StalePriceError(DomainError):
    code = "stale_price"
    http_status = status.HTTP_409_CONFLICT


class IdempotencyKeyReusedError(DomainError):
    code = "idempotency_key_reused"
    http_status = status.HTTP_422_UNPROCESSABLE_ENTITY


class UnknownCustomerError(DomainError):
    code = "unknown_customer"
    http_status = status.HTTP_400_BAD_REQUEST


# --- after the parcel leaves (issue 18) -----------------------------------------------------
class OrderNotDeliverableError(DomainError):
    """Only an order whose payment was captured (completed, or refunded since) is delivered:
    a parcel reported earlier is reported again (the carrier retries, the poll comes back)."""

    code = "not_deliverable"
    http_status = status.HTTP_409_CONFLICT


class NotReturnableError(DomainError):
    """The order cannot be returned at all: not delivered yet, or nothing of it is left."""

    code = "not_returnable"
    http_status = status.HTTP_409_CONFLICT


class ReturnWindowClosedError(DomainError):
    code = "return_window_closed"
    http_status = status.HTTP_409_CONFLICT


class ReturnQuantityExceededError(DomainError):
    """More units asked back than were bought, less those already asked back."""

    code = "return_quantity_exceeded"
    http_status = status.HTTP_409_CONFLICT


class NotInOrderError(DomainError):
    code = "not_in_order"
    http_status = status.HTTP_400_BAD_REQUEST


class NotYourOrderError(DomainError):
    """Only the order's own customer asks for a return (staff act on it, they do not file it)."""

    code = "not_your_order"
    http_status = status.HTTP_403_FORBIDDEN


class InvalidReturnTransitionError(DomainError):
    code = "invalid_return_transition"
    http_status = status.HTTP_409_CONFLICT


class LiveServerOnlyError(DomainError):
    """A stream or the WebSocket asked of gunicorn: they are served by the live (ASGI) server,
    whose address `data.url` gives (LIVE_PUBLIC_URL). 421: this server cannot answer it."""

    code = "live_server_only"
    http_status = status.HTTP_421_MISDIRECTED_REQUEST
