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


class DeadLetterStaleError(DomainError):
    """A replay of a dead letter whose order no longer waits at its step (it moved on, or ended):
    sending the step again could only do harm or nothing. Discard the entry instead."""

    code = "dead_letter_stale"
    http_status = status.HTTP_409_CONFLICT
