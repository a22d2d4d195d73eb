"""The HTTP edge shared by every gateway adapter: one JSON POST with timeouts, and the ways a
provider can fail (transient, the provider's fault: retry, and count against its breaker;
transient, this request's: retry only; rejected: never retry)."""

import logging
import os
import time
from typing import Any

import httpx
from django.conf import settings

from .errors import DomainError, TransientError

# One line per call, with the order's ids from the log context (INFO: LOG_TASK_LEVEL governs it).
logger = logging.getLogger(__name__)

# Answers worth retrying: the provider is busy, overloaded or still working on the same key.
RETRYABLE_STATUS = frozenset({409, 425, 429})
# Of those, the ones about this request only (another request with the same idempotency key is
# in flight): the provider is up and answering.
REQUEST_RETRYABLE_STATUS = frozenset({409, 425})


# Transport errors raised before the request left: the provider cannot have acted on it.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class GatewayUnavailableError(TransientError):
    """The provider could not be reached, timed out, answered a gateway-wide 5xx, or throttles
    us (429): retry later. Counts as a failure of its circuit breaker.

    `maybe_delivered` says whether the provider may have acted on the request although we got no
    answer (a read timeout, a reset mid-answer, a 5xx): an unknown outcome, which a caller that
    turns elsewhere (another carrier) must resolve. A refused connection or a 429 did nothing."""

    def __init__(self, message: str, *, maybe_delivered: bool = True) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered

    def __reduce__(self) -> tuple:
        return (_rebuild_unavailable, (type(self), str(self), self.maybe_delivered))


def _rebuild_unavailable(
    cls: type, message: str, maybe_delivered: bool
) -> "GatewayUnavailableError":
    return cls(message, maybe_delivered=maybe_delivered)


class GatewayRequestError(TransientError):
    """The provider answered, about this request only: retry it later (a processing error on this
    card, the same idempotency key still in flight). The provider is up, so its breaker counts
    this as a healthy answer: one customer's card cannot open the breaker everyone shares. The
    same key still in flight may yet act: an unknown outcome, like a timeout."""

    counts_for_breaker = False
    maybe_delivered = True


class GatewayRejectedError(DomainError):
    """The provider refused the request itself (a 4xx other than a decline): retrying cannot
    help."""

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


def _error_code(response: httpx.Response) -> str:
    """The provider's error code (`{"error": {"code": ...}}`), or '' if the body has none."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def post_json(
    url: str,
    body: dict[str, Any],
    *,
    idempotency_key: str,
    ok: frozenset[int] = frozenset(),
    request_error_codes: frozenset[str] = frozenset(),
) -> dict:
    """POST `body` with its Idempotency-Key and return the JSON answer. Statuses in `ok` (e.g. a
    402 decline) are results. Transient, and a failure of the provider (GatewayUnavailableError):
    transport errors, timeouts, 5xx, 429. Transient, but about this request only
    (GatewayRequestError): 409/425 (the same key in flight), and a 5xx whose error code the
    adapter names in `request_error_codes` (e.g. a card's processing error). Any other 4xx is a
    permanent GatewayRejectedError."""
    started = time.perf_counter()
    try:
        response = _client().post(
            url, json=body, headers={"Idempotency-Key": idempotency_key}, timeout=timeouts()
        )
    except httpx.TransportError as exc:
        _log_call(url, idempotency_key, started, outcome=type(exc).__name__, answered=False)
        raise GatewayUnavailableError(
            f"{type(exc).__name__} calling {url}", maybe_delivered=not isinstance(exc, NOT_SENT)
        ) from exc
    status = response.status_code
    _log_call(
        url, idempotency_key, started, outcome=status, answered=response.is_success or status in ok
    )
    if response.is_success or status in ok:
        return response.json()
    if status in REQUEST_RETRYABLE_STATUS:
        raise GatewayRequestError(f"{status} {_error_code(response)} from {url}".replace("  ", " "))
    if status >= 500 and (code := _error_code(response)) in request_error_codes:
        raise GatewayRequestError(f"{status} {code} from {url}")
    if status >= 500 or status in RETRYABLE_STATUS:
        raise GatewayUnavailableError(f"{status} from {url}", maybe_delivered=status != 429)
    raise GatewayRejectedError(f"{url} refused the request ({status}).", status=status)


def _log_call(
    url: str, idempotency_key: str, started: float, *, outcome: int | str, answered: bool
) -> None:
    """An answer (a decline included) at INFO; an error, a timeout or a refusal at WARNING."""
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    logger.log(
        logging.INFO if answered else logging.WARNING,
        "gateway POST %s -> %s in %.1f ms",
        url,
        outcome,
        duration_ms,
        extra={
            "gateway_url": url,
            "outcome": outcome,
            "duration_ms": duration_ms,
            "idempotency_key": idempotency_key,
        },
    )


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
