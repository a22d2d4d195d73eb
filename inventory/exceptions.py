"""Errors of the stock domain."""

from rest_framework import status

from ordersite.errors import DomainError


class OutOfStockError(DomainError):
    code = "out_of_stock"
    http_status = status.HTTP_409_CONFLICT
