"""The policy customer mail is written with (ordersite/mail.py) gives the same bytes as Django's
own (the stdlib's compat32): it only skips compat32's folding machinery for headers that fold
to themselves."""

import io
import random
import re
import string
from email.policy import compat32

import pytest
from django.core.mail import EmailMultiAlternatives

from ordersite.mail import PLAIN_HEADERS_AS_IS, ConsoleSummaryBackend, _Mail

TRICKY = [
    "",
    " ",
    "  leading and trailing  ",
    "two  spaces",
    "=?utf-8?q?looks_encoded?=",
    "<a0f1c2d3-0000-4000-8000-000000000000@ordersite>",
    "tab\\there",
    "Größe",
    "x" * 200,
    "word " * 30,
    "line\\nbreak",
]


@pytest.mark.parametrize("linesep", ["\n", "\r\n"])
def test_every_header_folds_as_compat32_folds_it(linesep):
    ours, stdlib = (
        PLAIN_HEADERS_AS_IS.clone(linesep=linesep),
        compat32.clone(linesep=linesep),
    )
    rng = random.Random(12)
    alphabet = string.ascii_letters + string.digits + string.punctuation + "  \t"
    values = [value.replace("\\t", "\t").replace("\\n", "\n") for value in TRICKY]
    values += ["".join(rng.choices(alphabet, k=rng.randint(0, 90))) for _ in range(3000)]
    # Every length around the one-line limit, for a short and a long header name.
    values += ["y" * n for n in range(60, 80)]
    for name in ("To", "Subject", "X-Ordersite-Notification"):
        for value in values:
            assert ours.fold_binary(name, value) == stdlib.fold_binary(name, value), (name, value)
            assert ours.fold(name, value) == stdlib.fold(name, value), (name, value)


def test_a_plain_one_line_header_takes_the_short_way():
    """The saving itself: such a header never reaches compat32's folding."""
    assert PLAIN_HEADERS_AS_IS._as_is("Subject", "Your order is confirmed") == (
        "Subject: Your order is confirmed\n"
    )
    assert PLAIN_HEADERS_AS_IS._as_is("Subject", "Größe") is None
    assert PLAIN_HEADERS_AS_IS._as_is("Subject", "x" * 80) is None


def _mail(cls: type, subject: str) -> bytes:
    message = cls(
        subject=subject,
        body="Hello,\n\nYour parcel is on its way.\n",
        from_email="Shop <orders@example.com>",
        to=["Cüstomer <customer@example.com>"],
        headers={
            "Date": "Wed, 02 Dec 2026 10:30:45 -0000",
            "Message-ID": "<a0f1c2d3-0000-4000-8000-000000000000@ordersite>",
            "X-Ordersite-Order": "a0f1c2d3-0000-4000-8000-000000000000",
        },
    )
    message.attach_alternative("<p>Your parcel is on its way.</p>", "text/html")
    raw = message.message().as_bytes(linesep="\r\n")
    return re.sub(rb"=+\d+==", b"BOUNDARY", raw)


@pytest.mark.parametrize(
    "subject",
    [
        "Your order has shipped: tracking number TRK123456",
        "Ihre Bestellung ist unterwegs: Größe 42",
        "A long subject that needs folding " * 4,
    ],
)
def test_a_mail_is_the_same_bytes_as_djangos(subject):
    assert _mail(_Mail, subject) == _mail(EmailMultiAlternatives, subject)


def test_the_default_backend_prints_one_line_per_mail():
    """make run's log relay (honcho) paid for every line Django's console backend printed: about
    54 a mail. The default backend prints one, with what staff look a mail up by."""
    stream = io.StringIO()
    backend = ConsoleSummaryBackend(stream=stream)
    mails = []
    for n, subject in enumerate(("Your order is confirmed", "Ihre Bestellung: Größe 42")):
        mail = _Mail(
            subject=subject,
            body="Thanks.\n" * 20,
            from_email="orders@example.com",
            to=[f"customer-{n}@example.com"],
            headers={"Message-ID": f"<n-{n}@ordersite>"},
        )
        mail.attach_alternative("<p>Thanks.</p>" * 20, "text/html")
        mails.append(mail)
    assert backend.send_messages(mails) == 2
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    for mail, line in zip(mails, lines, strict=True):
        size = len(mail.message().as_bytes())
        assert line == (
            f"mail to {mail.to[0]}: {mail.subject!r} ({mail.extra_headers['Message-ID']}, "
            f"{size} bytes)"
        )
