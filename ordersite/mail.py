"""Mail to customers through Django's email framework (EMAIL_BACKEND: a one-line console summary
by default, SMTP in production), as a gateway like the others: behind the `email` circuit
breaker, with the outcomes sorted once into what a retry may fix and what it cannot.

| the mail server's answer                                  | error                      | breaker |
|-----------------------------------------------------------|----------------------------|---------|
| connection refused, reset or timed out; 4xx; disconnected | GatewayUnavailableError    | failure |
| 5xx (a recipient or the message refused for good)         | GatewayRejectedError       | healthy |
"""

import re
import smtplib
import sys
from email.policy import Compat32
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.console import EmailBackend as ConsoleBackend

from .breakers import Breaker, BreakerName
from .gateways import GatewayRejectedError, GatewayUnavailableError

# A header value that needs no folding and no encoding: printable ASCII on one line.
_PLAIN = re.compile(r"[\x20-\x7e]*")


class _PlainHeadersAsIs(Compat32):
    """The policy Django's mail is written with (compat32), minus its slowest habit: a header that
    already fits on one line in printable ASCII folds to itself, which compat32 finds out only by
    taking it through email.header.Header (a third of a mail's MIME rendering in py-spy, 0.4 of
    1.7 ms). Anything else is folded by compat32 itself; the bytes are the same either way
    (tests/notifications/test_mail_policy.py)."""

    def _as_is(self, name: str, value: Any) -> str | None:
        limit = self.max_line_length or sys.maxsize
        if (
            isinstance(value, str)
            and len(name) + 2 + len(value) <= limit
            and _PLAIN.fullmatch(value)
        ):
            return f"{name}: {value}{self.linesep}"
        return None

    def fold(self, name: str, value: Any) -> str:
        folded = self._as_is(name, value)
        return super().fold(name, value) if folded is None else folded

    def fold_binary(self, name: str, value: Any) -> bytes:
        folded = self._as_is(name, value)
        return super().fold_binary(name, value) if folded is None else folded.encode("ascii")


PLAIN_HEADERS_AS_IS = _PlainHeadersAsIs()


class _Mail(EmailMultiAlternatives):
    def message(self) -> Any:
        built = super().message()
        built.policy = PLAIN_HEADERS_AS_IS  # what every generator of this message folds with
        return built


class ConsoleSummaryBackend(ConsoleBackend):
    """The default backend: each mail rendered to bytes as a mail server would take it, then one
    line on the console (To and Cc, never Bcc; subject, Message-ID, size) instead of Django's
    console backend's whole MIME text. That text was about 54 lines a mail, two mails an order,
    and `make run`'s honcho relays every line: 3.3 ms of its CPU an order at 20 orders/s, 5 % of
    the whole stack's (bench/make_run_cpu.py). EMAIL_BACKEND=django.core.mail.backends.
    console.EmailBackend prints whole mails again."""

    def write_message(self, message: EmailMessage) -> None:
        rendered = message.message().as_bytes()
        self.stream.write(
            f"mail to {', '.join([*message.to, *message.cc])}: {message.subject!r} "
            f"({message.extra_headers.get('Message-ID', 'no Message-ID')}, "
            f"{len(rendered)} bytes)\n"
        )


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
    message = _Mail(subject=subject, body=text, from_email=from_email, to=[to], headers=headers)
    message.attach_alternative(html, "text/html")
    return Breaker(BreakerName.EMAIL).call(_send, message)
