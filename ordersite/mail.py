"""Mail to customers through Django's email framework (EMAIL_BACKEND: the console by default, SMTP
in production), as a gateway like the others: behind the `email` circuit breaker, with the
outcomes sorted once into what a retry may fix and what it cannot.

| the mail server's answer                                  | error                      | breaker |
|-----------------------------------------------------------|----------------------------|---------|
| connection refused, reset or timed out; 4xx; disconnected | GatewayUnavailableError    | failure |
| 5xx (a recipient or the message refused for good)         | GatewayRejectedError       | healthy |
"""

import smtplib
from typing import Any

from django.core.mail import EmailMultiAlternatives, get_connection

from .breakers import Breaker, BreakerName
from .gateways import GatewayRejectedError, GatewayUnavailableError


def _refused_for_good(exc: smtplib.SMTPException) -> bool:
    """A 5xx answer (every refused recipient's, for SMTPRecipientsRefused); anything else may pass
    on a later try."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPConnectError):
        return False
    code = getattr(exc, "smtp_code", 0)
    return isinstance(code, int) and 500 <= code < 600


def _send(message: EmailMultiAlternatives) -> int:
    try:
        with get_connection(fail_silently=False) as connection:
            return connection.send_messages([message])
    except smtplib.SMTPException as exc:
        if _refused_for_good(exc):
            raise GatewayRejectedError(f"the mail server refused the message: {exc}") from exc
        raise GatewayUnavailableError(f"mail server: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:  # refused, reset, timed out, name not resolved
        raise GatewayUnavailableError(
            f"mail server unreachable: {type(exc).__name__}: {exc}"
        ) from exc


def send_message(
    *, subject: str, text: str, html: str, to: str, from_email: str, headers: dict[str, Any]
) -> int:
    """Send one mail (a text part and an HTML alternative) through the configured backend, behind
    the `email` breaker. Returns how many messages the backend took (1)."""
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=from_email, to=[to], headers=headers
    )
    message.attach_alternative(html, "text/html")
    return Breaker(BreakerName.EMAIL).call(_send, message)
