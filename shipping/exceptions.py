"""Errors of the shipping domain; each code is part of the API."""

from rest_framework import status

from ordersite.errors import DomainError


class OrderNotShippableError(DomainError):
    code = "not_shippable"
    http_status = status.HTTP_409_CONFLICT
