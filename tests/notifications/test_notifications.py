"""Customer notifications through real workers, a real broker and a real mail transport: one mail
per event whatever is delivered twice, and a mail server that fails never touches the order."""

import email
from email.message import Message
from pathlib import Path

import pytest
from django.db import transaction

from deadletters import services as dlq_services
from deadletters import store
from notifications.models import Notification
from notifications.services import notification_id
from orders.models import Order
from orders.pipeline import pipeline_chain
from orders.states import EventKind, OrderStatus
from orders.visibility import public_event
from ordersite.celery import app
from ordersite.queues import Queue

from ..conftest import MAIL_DIR, _free_ports, task_result, wait_for
from ..factories import OrderFactory, ProductFactory, UserFactory
from .smtp_sandbox import SmtpSandbox

pytestmark = pytest.mark.django_db(transaction=True)
SEND = "notifications.send_notification"
SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def _mails(directory: Path, order: Order) -> list[Message]:
    """The mails about `order` that Django's file backend wrote into `directory`."""
    found = []
    for path in sorted(directory.glob("*.log")) if directory.is_dir() else []:
        for chunk in path.read_bytes().split(SEPARATOR):
            if chunk.strip():
                found.append(email.message_from_bytes(chunk))
    return [mail for mail in found if mail["X-Ordersite-Order"] == str(order.public_id)]


def _parts(mail: Message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in mail.get_payload()
    }


def _order(*, on_hand: int = 10, token: str = "tok_visa", email: str | None = None) -> Order:
    customer = UserFactory() if email is None else UserFactory(email=email)
    return OrderFactory(
        customer=customer, payment_token=token, lines=[(ProductFactory(on_hand=on_hand), 2)]
    )


def _run(order: Order, broker) -> None:
    pipeline_chain(str(order.public_id)).apply_async(connection=broker)


def _status(order: Order) -> str:
    return Order.objects.get(pk=order.pk).status


def _notifications(order: Order) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(order=order).values_list("kind", "status"))


def _send_again(order: Order, kind: EventKind, broker) -> str:
    """The task of the order's `kind` event sent once more, as a redelivery or a replay would."""
    seq = order.events.get(kind=kind).seq
    order_id = str(order.public_id)
    args = (notification_id(order_id=order_id, seq=seq), order_id, str(seq))
    return app.send_task(SEND, args=args, queue=Queue.NOTIFICATIONS, connection=broker).id


def test_each_notification_is_mailed_once_and_staff_see_it_in_the_timeline(
    isolated_broker, isolated_worker, tmp_path
):
    worker = isolated_worker(NOTIFICATIONS_ENABLED="true", EMAIL_FILE_PATH=str(tmp_path))
    completed, declined, out_of_stock = _order(), _order(token="tok_declined"), _order(on_hand=0)
    no_email = _order(email="")
    for order in (completed, declined, out_of_stock, no_email):
        _run(order, isolated_broker)
    wait_for(lambda: _status(completed) == _status(no_email) == OrderStatus.COMPLETED, timeout=60)
    wait_for(lambda: _status(declined) == OrderStatus.PAYMENT_FAILED, timeout=60)
    wait_for(lambda: _status(out_of_stock) == OrderStatus.CANCELLED, timeout=60)
    expected = {completed: 2, declined: 1, out_of_stock: 1}
    wait_for(lambda: all(len(_mails(tmp_path, o)) == n for o, n in expected.items()), timeout=30)
    wait_for(
        lambda: (
            len(_notifications(no_email)) == 2
            and Notification.objects.filter(status="sent").count() == 4
        )
    )

    shipped, confirmed = sorted(_mails(tmp_path, completed), key=lambda m: m["Subject"])
    tracking = completed.shipment.tracking_number
    assert (confirmed["Subject"], confirmed["To"]) == (
        "Your order is confirmed",
        completed.customer.email,
    )
    assert shipped["Subject"] == f"Your order has shipped: tracking number {tracking}"
    assert (
        confirmed["Message-ID"]
        == f"<{Notification.objects.get(order=completed, kind='confirmed').public_id}@ordersite>"
    )
    for mail in (confirmed, shipped):
        parts = _parts(mail)
        assert set(parts) == {"text/plain", "text/html"}
        assert str(completed.public_id) in parts["text/plain"]
        assert "<html" in parts["text/html"]
    assert tracking in _parts(shipped)["text/plain"]
    assert tracking in _parts(shipped)["text/html"]
    (failed,) = _mails(tmp_path, declined)
    assert failed["Subject"] == "We could not complete your order"
    assert "The card was declined." in _parts(failed)["text/plain"]
    (cancelled,) = _mails(tmp_path, out_of_stock)
    assert cancelled["Subject"] == "Your order was cancelled"
    assert "an item is out of stock" in _parts(cancelled)["text/plain"]
    assert _mails(tmp_path, no_email) == []
    assert _notifications(no_email) == [("confirmed", "skipped"), ("shipped", "skipped")]

    # Staff read in the timeline what was sent (or why not); customers do not see these lines.
    sent = completed.events.filter(kind=EventKind.NOTIFICATION_SENT).order_by("seq")
    assert [(e.data["notification"], e.data["to"]) for e in sent] == [
        ("confirmed", completed.customer.email),
        ("shipped", completed.customer.email),
    ]
    assert all(public_event(event) is None for event in sent)
    skipped = no_email.events.filter(kind=EventKind.NOTIFICATION_SKIPPED)
    assert [e.data["reason"] for e in skipped] == ["The customer has no email address."] * 2

    # A redelivered task and a double publish of the same event send nothing more.
    again = [
        _send_again(completed, kind, isolated_broker) for kind in (EventKind.STOCK_RESERVED,) * 2
    ]
    again.append(_send_again(out_of_stock, EventKind.ORDER_CANCELLED, isolated_broker))
    results = wait_for(lambda: all(r := [task_result(worker, t) for t in again]) and r, timeout=30)
    assert results == ["skipped: already sent or being sent"] * 3
    assert (len(_mails(tmp_path, completed)), len(_mails(tmp_path, out_of_stock))) == (2, 1)
    assert completed.events.filter(kind=EventKind.NOTIFICATION_SENT).count() == 2


def test_a_mail_server_that_answers_451_is_retried_and_each_mail_goes_once(
    isolated_broker, isolated_worker
):
    smtp = SmtpSandbox(tempfail=2)
    try:
        isolated_worker(
            NOTIFICATIONS_ENABLED="true",
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_PORT=str(smtp.port),
            NOTIFICATION_MAX_RETRIES="5",
        )
        order = _order()
        _run(order, isolated_broker)
        wait_for(
            lambda: _notifications(order) == [("confirmed", "sent"), ("shipped", "sent")],
            timeout=60,
        )
    finally:
        smtp.stop()
    assert smtp.refused == 2
    assert sorted(m["Subject"].split(":")[0] for m in smtp.messages) == [
        "Your order has shipped",
        "Your order is confirmed",
    ]
    assert sum(Notification.objects.filter(order=order).values_list("attempts", flat=True)) == 4
    assert _status(order) == OrderStatus.COMPLETED


def test_a_mail_server_that_is_down_dead_letters_the_mails_and_never_the_order(
    isolated_broker, isolated_worker, request
):
    refusing = _free_ports(1)[0]  # nothing listens there: connection refused
    isolated_worker(
        NOTIFICATIONS_ENABLED="true",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_PORT=str(refusing),
        NOTIFICATION_MAX_RETRIES="1",
    )
    order = _order()
    _run(order, isolated_broker)
    wait_for(lambda: _status(order) == OrderStatus.COMPLETED, timeout=60)
    entries = wait_for(lambda: len(e := store.entries()) == 2 and e, timeout=60)

    assert {(e.task, e.queue, e.reason, e.attempts, e.exc_type) for e in entries} == {
        (SEND, "notifications", "retries_exhausted", 2, "GatewayUnavailableError")
    }
    rows = Notification.objects.filter(order=order)
    assert {(r.kind, r.status, r.attempts) for r in rows} == {
        ("confirmed", "failed", 2),
        ("shipped", "failed", 2),
    }
    assert all("mail server unreachable" in r.last_error for r in rows)
    # The order never noticed: completed on time, not flagged, nothing about the mail in its
    # timeline.
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.COMPLETED, False)
    kinds = set(order.events.values_list("kind", flat=True))
    assert not kinds & {EventKind.DEAD_LETTERED, EventKind.STEP_RETRY, EventKind.NOTIFICATION_SENT}

    # The server is back (the session's worker mails into MAIL_DIR): staff replay, each goes once.
    request.getfixturevalue("live_worker")
    for entry in entries:
        dlq_services.replay_dead_letter(entry_id=entry.id, actor="ops")
    wait_for(lambda: sorted(r.status for r in rows.all()) == ["sent", "sent"], timeout=30)
    assert sorted(m["Subject"].split(":")[0] for m in _mails(MAIL_DIR, order)) == [
        "Your order has shipped",
        "Your order is confirmed",
    ]
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.COMPLETED, False)


@pytest.mark.django_db
def test_an_order_given_up_by_staff_mails_its_failure(mailoutbox, settings):
    """order_failed (a dead letter discarded) mails like a declined card; in-process, Django's
    test outbox (locmem) counts."""
    from notifications.services import send_notification
    from orders.services import transition_order

    order = _order()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.RESERVED)
    order.refresh_from_db()
    with transaction.atomic():
        transition_order(
            order,
            OrderStatus.FAILED,
            kind=EventKind.ORDER_FAILED,
            reason="Dead letter discarded: x",
        )
    seq = order.events.get(kind=EventKind.ORDER_FAILED).seq
    args = {
        "notification_id": notification_id(order_id=str(order.public_id), seq=seq),
        "order_id": str(order.public_id),
    }
    assert send_notification(**args, seq=seq) == "sent: failed"
    assert send_notification(**args, seq=seq) == "skipped: already sent or being sent"
    (mail,) = mailoutbox
    assert mail.subject == "We could not complete your order"
    assert "We could not complete this order." in mail.body
    assert "Dead letter" not in mail.body
    assert "Dead letter" not in mail.alternatives[0][0]


def test_a_mail_whose_task_never_reached_the_broker_is_sent_by_the_sweep(settings, request):
    """The event committed but its task was lost (mail off then, as a broker down at commit
    loses it): the beat sweep finds the event without a Notification row and sends it, once."""
    from notifications.services import resend_lost_notifications
    from orders.services import transition_order

    request.getfixturevalue("live_worker")  # the session's worker mails into MAIL_DIR
    order = _order()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PENDING)
    order.refresh_from_db()
    with transaction.atomic():
        transition_order(
            order,
            OrderStatus.CANCELLED,
            kind=EventKind.ORDER_CANCELLED,
            reason="Cancelled on request.",
        )
    settings.NOTIFICATIONS_ENABLED = True
    settings.PIPELINE_STUCK_AFTER_SECONDS = 0

    assert resend_lost_notifications() == 1
    wait_for(lambda: _notifications(order) == [("cancelled", "sent")], timeout=30)
    assert [m["Subject"] for m in _mails(MAIL_DIR, order)] == ["Your order was cancelled"]
    assert resend_lost_notifications() == 0


def test_a_cancel_in_the_web_process_mails_the_customer_after_commit(settings, request):
    """Events written outside the pipeline (a customer's cancel, through the API's service) are
    published the same way, after their commit."""
    from orders.services import cancel_order

    request.getfixturevalue("live_worker")  # the session's worker mails into MAIL_DIR
    settings.NOTIFICATIONS_ENABLED = True
    order = _order()
    cancel_order(order=order, actor=order.customer.username)

    wait_for(lambda: _notifications(order) == [("cancelled", "sent")], timeout=30)
    (mail,) = _mails(MAIL_DIR, order)
    assert (mail["Subject"], mail["To"]) == ("Your order was cancelled", order.customer.email)
    assert "Cancelled on request." in _parts(mail)["text/plain"]
