"""The HTTP edge shared by every gateway adapter: one JSON POST with timeouts, and the two
ways a provider can fail (transient: retry; rejected: never retry)."""

import os
from typing import Any

import httpx
from django.conf import settings

from .errors import DomainError, TransientError

# Answers worth retrying: the provider is busy, overloaded or still working on the same key.
RETRYABLE_STATUS = frozenset({409, 425, 429})


class GatewayUnavailableError(TransientError):
    """The provider could not be reached, timed out or answered 5xx: retry later."""


class GatewayRejectedError(DomainError):
    """The provider refused the request itself (a 4xx other than a decline): retrying cannot help."""

    code = "gateway_rejected"


_clients: dict[int, httpx.Client] = {}


def _client() -> httpx.Client:
    """One pooled client per process (a worker's pool children fork: never share sockets).
    A new client per call costs ~20 ms of TLS setup; a pooled keep-alive call ~3 ms."""
    pid = os.getpid()
    if pid not in _clients:
        _clients.clear()
        _clients[pid] = httpx.Client()
    return _clients[pid]


def timeouts() -> httpx.Timeout:
    """Connect and read timeouts from settings: a hung provider costs at most this much."""
    return httpx.Timeout(settings.GATEWAY_READ_TIMEOUT, connect=settings.GATEWAY_CONNECT_TIMEOUT)


def post_json(url: str, body: dict[str, Any], *, idempotency_key: str, ok: frozenset[int] = frozenset()) -> dict:
    """POST `body` with its Idempotency-Key and return the JSON answer. Statuses in `ok` (e.g. a
    402 decline) are results; transport errors, timeouts, 5xx and RETRYABLE_STATUS are transient;
    any other 4xx is a permanent GatewayRejectedError."""
    try:
        response = _client().post(url, json=body, headers={"Idempotency-Key": idempotency_key}, timeout=timeouts())
    except httpx.TransportError as exc:
        raise GatewayUnavailableError(f"{type(exc).__name__} calling {url}") from exc
    if response.is_success or response.status_code in ok:
        return response.json()
    if response.status_code >= 500 or response.status_code in RETRYABLE_STATUS:
        raise GatewayUnavailableError(f"{response.status_code} from {url}")
    raise GatewayRejectedError(f"{url} refused the request ({response.status_code}).", status=response.status_code)


LISTING_READ_TIMEOUT = 120.0  # a whole ledger of 100k entries takes seconds to produce


def get_json(url: str) -> Any:
    """GET a provider's read-only listing (a ledger, for audits). Never behind a breaker: an audit
    must neither trip nor wait on one; and not held to the hot path's read timeout, since a whole
    ledger takes seconds. Failures are GatewayUnavailableError, as for a POST."""
    try:
        timeout = httpx.Timeout(LISTING_READ_TIMEOUT, connect=settings.GATEWAY_CONNECT_TIMEOUT)
        response = _client().get(url, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise GatewayUnavailableError(f"{type(exc).__name__} reading {url}") from exc
    return response.json()
