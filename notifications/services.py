"""Customer notifications: which events mail the customer, and sending each mail once.

Published after commit by the code that writes the event (orders/timeline.py calls
`notify_on_commit` with every event), so a mail never holds up a step, and a mail server that is
down fails nothing but the mail: its task retries on the `notifications` queue, then waits in
the dead-letter queue for staff.

Never twice for one event: the task first takes the event's one Notification row (one
INSERT … ON CONFLICT that takes it as `sending`, or takes the existing row only while it is
free); a redelivered task, a replay or a second publish
finds it taken or sent and sends nothing. A take older than twice the task's hard time limit was
left by a worker that died mid-send: it may be taken again (the one case a mail can go twice: a
worker killed between the mail server's acceptance and the commit that records it).
"""

import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.template.loader import render_to_string
from django.utils import timezone

from orders import selectors as order_selectors
from orders import visibility
from orders.pipeline import send_on_commit, task_signature
from orders.services import record_event
from orders.states import EventKind, OrderStatus
from ordersite import logs, mail
from ordersite.db import CompiledUpdate, guarded_update
from ordersite.money import format_money

from .models import Notification, NotificationKind, NotificationStatus

if TYPE_CHECKING:
    from orders.models import OrderEvent

logger = logging.getLogger(__name__)

SEND_NOTIFICATION = "notifications.send_notification"
NO_EMAIL = "The customer has no email address."
# Names every notification id: uuid5 of "<order id>:<event seq>".
_NAMESPACE = uuid.UUID("5b0f9c62-3f8e-4a57-9a0e-6d1c2f7e8a41")

# (event kind, the order's status it records) -> the mail it sends. "Confirmation" is the moment
# the order is paid (authorized) and its items are set aside: from then on only a carrier stands
# between the customer and the parcel. A payment_failed recorded for an order that had already
# ended (a late answer from the processor) is no failure of the order: it mails nothing.
NOTIFY: dict[tuple[str, str], NotificationKind] = {
    (EventKind.STOCK_RESERVED, OrderStatus.RESERVED): NotificationKind.CONFIRMED,
    (EventKind.ORDER_SHIPPED, OrderStatus.SHIPPED): NotificationKind.SHIPPED,
    (EventKind.PAYMENT_FAILED, OrderStatus.PAYMENT_FAILED): NotificationKind.FAILED,
    (EventKind.ORDER_FAILED, OrderStatus.FAILED): NotificationKind.FAILED,
    (EventKind.ORDER_CANCELLED, OrderStatus.CANCELLED): NotificationKind.CANCELLED,
}


def notification_id(*, order_id: str, seq: int) -> str:
    """The id every copy of an event's notification task carries (derived, not random)."""
    return str(uuid.uuid5(_NAMESPACE, f"{order_id}:{seq}"))


def notify_on_commit(event: "OrderEvent") -> None:
    """orders/timeline.py's listener: an event that mails the customer sends its task once the
    event's transaction commits (a broker that cannot take it is logged, not raised)."""
    kind = NOTIFY.get((event.kind, event.status))
    if kind is None or not settings.NOTIFICATIONS_ENABLED:
        return
    order_id = str(event.order.public_id)
    send_on_commit(
        SEND_NOTIFICATION,
        notification_id(order_id=order_id, seq=event.seq),
        order_id,
        str(event.seq),
    )


def _claim(event: "OrderEvent", kind: NotificationKind, public_id: str) -> Notification | None:
    """Take the event's notification for this task, or None if it is sent, skipped, or being
    sent: one statement, the row inserted already taken or an existing one taken while it may be
    (pending, failed, or a take older than the lease), so two copies of the task never both win."""
    now = timezone.now()
    lease = timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    recipient = event.order.customer.email
    table = connection.ops.quote_name(Notification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} AS n (public_id, order_id, event_id, kind, recipient, status,
                                      attempts, claimed_at, last_error, created_at)
            VALUES (%(public_id)s, %(order)s, %(event)s, %(kind)s, %(recipient)s, %(sending)s,
                    1, %(now)s, '', %(now)s)
            ON CONFLICT (event_id) DO UPDATE
               SET status = %(sending)s, claimed_at = %(now)s, attempts = n.attempts + 1
             WHERE n.status IN (%(pending)s, %(failed)s)
                OR (n.status = %(sending)s AND n.claimed_at < %(expired)s)
            RETURNING n.id, n.recipient, n.attempts
            """,  # noqa: S608 - only the quoted table name is interpolated
            {
                "public_id": uuid.UUID(public_id),
                "order": event.order_id,
                "event": event.pk,
                "kind": kind,
                "recipient": recipient,
                "sending": NotificationStatus.SENDING,
                "pending": NotificationStatus.PENDING,
                "failed": NotificationStatus.FAILED,
                "now": now,
                "expired": now - lease,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    pk, recipient, attempts = row
    return Notification(
        pk=pk,
        public_id=uuid.UUID(public_id),
        order_id=event.order_id,
        event=event,
        kind=kind,
        recipient=recipient,
        status=NotificationStatus.SENDING,
        attempts=attempts,
        claimed_at=now,
    )


# Every mail that goes out ends here; the database's clock stamps it.
_MARK_SENT = CompiledUpdate(
    Notification,
    where=lambda: Q(),
    changes=lambda: {"status": NotificationStatus.SENT, "sent_at": Now()},
)


def _finish(
    notification: Notification, event: "OrderEvent", *, kind: EventKind, **data: Any
) -> None:
    """Record the outcome (sent, or skipped with its reason) on the row and in the order's
    timeline, in one transaction: staff read in the timeline what went out."""
    with transaction.atomic(durable=True):
        if kind == EventKind.NOTIFICATION_SENT:
            _MARK_SENT(notification.pk)
        else:
            Notification.objects.filter(pk=notification.pk).update(
                status=NotificationStatus.SKIPPED, last_error=str(data.get("reason", ""))[:500]
            )
        # The event's order as read at the start: record_event numbers the event and reads its
        # status in one UPDATE, and publishes only the order's ids, so nothing stale is written.
        record_event(
            event.order,
            kind,
            actor="notifications",
            notification=notification.kind,
            notification_id=str(notification.public_id),
            event_seq=event.seq,
            **data,
        )


def _context(event: "OrderEvent") -> dict[str, object]:
    order = event.order
    public = visibility.public_event(event) or {}
    return {
        "order_id": str(order.public_id),
        "customer": order.customer.get_full_name() or order.customer.get_username(),
        "total": format_money(order.total_cents, order.currency),
        "items": [
            {"sku": item.sku, "name": item.name, "quantity": item.quantity}
            for item in order_selectors.order_items(order=order)
        ],
        "tracking_number": event.data.get("tracking_number", ""),
        "carrier": event.data.get("carrier", ""),
        # The customer's own words for what happened (orders/visibility.py): never an internal.
        "reason": public.get("message", ""),
    }


def send_notification(*, notification_id: str, order_id: str, seq: int) -> str:
    """The task's work: mail the customer about event `seq` of the order, at most once (see the
    module's docstring). A mail server that fails raises GatewayUnavailableError (retried) or
    GatewayRejectedError (dead-lettered at once); the notification is then `failed` until a retry
    or a replay takes it again."""
    logs.bind_order(order_id=order_id)
    event = order_selectors.order_event(order_id=order_id, seq=seq)
    kind = NOTIFY.get((event.kind, event.status)) if event is not None else None
    if event is None or kind is None:
        return "skipped: no such event to notify"
    notification = _claim(event, kind, notification_id)
    if notification is None:
        return "skipped: already sent or being sent"
    if not notification.recipient:
        _finish(notification, event, kind=EventKind.NOTIFICATION_SKIPPED, reason=NO_EMAIL)
        return "skipped: no email address"
    context = _context(event)
    subject = render_to_string(f"notifications/{kind}_subject.txt", context).strip()
    try:
        mail.send_message(
            subject=subject,
            text=render_to_string(f"notifications/{kind}.txt", context),
            html=render_to_string(f"notifications/{kind}.html", context),
            to=notification.recipient,
            from_email=settings.DEFAULT_FROM_EMAIL,
            headers={
                "Message-ID": f"<{notification.public_id}@ordersite>",
                "X-Ordersite-Order": order_id,
                "X-Ordersite-Notification": str(notification.public_id),
            },
        )
    except Exception as exc:
        with transaction.atomic(durable=True):
            guarded_update(
                Notification,
                notification.pk,
                when=Q(status=NotificationStatus.SENDING),
                status=NotificationStatus.FAILED,
                last_error=f"{type(exc).__name__}: {exc}"[:500],
            )
        raise
    _finish(
        notification,
        event,
        kind=EventKind.NOTIFICATION_SENT,
        to=notification.recipient,
        subject=subject,
    )
    logger.info("%s mail sent", kind, extra={"notification_id": str(notification.public_id)})
    return f"sent: {kind}"


# How far back the sweep looks for a mail whose task never reached the broker.
RESEND_LOOKBACK = timedelta(days=1)


def resend_lost_notifications() -> int:
    """Beat, with the reconciler: events that mail, written more than PIPELINE_STUCK_AFTER_SECONDS
    ago (and within a day) with no Notification row, lost their task (a broker that could not take
    it at commit): send it again. Idempotent like every copy of the task. Returns how many."""
    if not settings.NOTIFICATIONS_ENABLED:
        return 0
    now = timezone.now()
    events = order_selectors.recent_events(
        kinds={kind for kind, _ in NOTIFY},
        since=now - RESEND_LOOKBACK,
        until=now - timedelta(seconds=settings.PIPELINE_STUCK_AFTER_SECONDS),
    )
    lost = (
        events.annotate(noticed=Exists(Notification.objects.filter(event=OuterRef("pk"))))
        .filter(noticed=False)
        .values_list("order__public_id", "seq", "kind", "status")
    )
    resent = 0
    for public_id, seq, kind, status in lost.iterator(chunk_size=1000):
        if (kind, status) in NOTIFY:
            order_id = str(public_id)
            args = (notification_id(order_id=order_id, seq=seq), order_id, str(seq))
            task_signature(SEND_NOTIFICATION, *args).apply_async()
            resent += 1
    if resent:
        logger.warning("re-sent %d notification(s) whose task was lost", resent)
    return resent
