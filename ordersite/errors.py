"""DomainError, ConflictError and the one DRF exception handler that shapes every error body.

Every 4xx/5xx body is {"error": {"code", "message", "fields", "data"}}; codes are API.
"""

import logging
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .parsers import RequestTooLargeError

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule said no. Subclasses set `code` (snake_case, part of the API) and
    `http_status`; keyword arguments become the machine-readable `data` of the body."""

    code: ClassVar[str] = "domain_error"
    http_status: ClassVar[int] = status.HTTP_400_BAD_REQUEST
    # Which request fields the error is about, in the shape of DRF's validation errors.
    fields: dict[str, Any] | None = None

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        if fields is not None:
            self.fields = fields


class ConflictError(DomainError):
    """A compare-and-swap matched no row: someone else changed it first. Transient in tasks."""

    code = "conflict"
    http_status = status.HTTP_409_CONFLICT

    def __init__(self, label: str, *, pk: Any, expected_version: int | None = None) -> None:
        super().__init__(
            f"{label} {pk} was changed by someone else; reload and try again.",
            model=label,
            pk=pk,
            expected_version=expected_version,
        )


def error_body(
    code: str, message: str, *, fields: dict | None = None, data: dict | None = None
) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, "data": data or {}}}


def _drf_code(exc: drf_exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return {
        drf_exceptions.ValidationError: "invalid",
        drf_exceptions.ParseError: "parse_error",
    }.get(type(exc), exc.default_code)


def _as_fields(detail: Any) -> dict:
    if isinstance(detail, dict):
        return {
            key: _as_fields(value) if isinstance(value, dict) else value
            for key, value in detail.items()
        }
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: one body shape for domain, DRF and Django errors."""
    if isinstance(exc, DomainError):
        return Response(
            error_body(exc.code, exc.message, fields=exc.fields, data=_jsonable(exc.data)),
            status=exc.http_status,
        )
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = drf_exceptions.ValidationError(detail=detail)
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLargeError(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    elif isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, drf_exceptions.APIException):
        logger.exception(
            "Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc
        )
        return Response(
            error_body("server_error", "An unexpected error occurred; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, drf_exceptions.ValidationError):
        # `codes` mirrors `fields` with DRF's error codes (max_length, required, too_deep…), for
        # programs; a ValidationError may add details of its own in a `data` attribute.
        data = {"codes": _as_fields(exc.get_codes()), **getattr(exc, "data", {})}
        body = error_body(
            "invalid",
            "The request is invalid; see fields.",
            fields=_as_fields(exc.detail),
            data=data,
        )
    else:
        # Throttled.wait is set in its __init__ but missing from the stubs.
        data = {"wait": exc.wait} if isinstance(exc, drf_exceptions.Throttled) else {}  # type: ignore[attr-defined]
        body = error_body(_drf_code(exc), str(exc.detail), data=data)
    response.data = body
    return response


def _jsonable(data: dict) -> dict:
    return {
        key: value
        if isinstance(value, int | float | str | bool | list | dict | None)
        else str(value)
        for key, value in data.items()
    }


class TransientError(Exception):
    """A fault worth retrying (gateway unreachable, breaker open). `retry_after` (seconds), when
    set, replaces the backoff countdown."""

    retry_after: float | None = None
