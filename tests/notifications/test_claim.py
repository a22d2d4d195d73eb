"""The claim a mail's task takes before sending: one statement, and only one copy wins."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification, NotificationKind, NotificationStatus
from notifications.services import _claim, notification_id
from orders.services import record_event
from orders.states import EventKind

from ..factories import OrderFactory

pytestmark = pytest.mark.django_db


def _event():
    order = OrderFactory()
    with transaction.atomic():
        return record_event(order, EventKind.STOCK_RESERVED)


def test_the_first_copy_takes_the_row_in_one_statement_and_a_second_finds_it_taken(
    django_assert_num_queries,
):
    event = _event()
    public_id = notification_id(order_id=str(event.order.public_id), seq=event.seq)
    with django_assert_num_queries(1):
        taken = _claim(event, NotificationKind.CONFIRMED, public_id)
    assert taken is not None
    row = Notification.objects.get(pk=taken.pk)
    assert (row.status, row.attempts, str(row.public_id)) == ("sending", 1, public_id)
    assert row.recipient == event.order.customer.email
    assert _claim(event, NotificationKind.CONFIRMED, public_id) is None
    assert Notification.objects.get(pk=taken.pk).attempts == 1


@pytest.mark.parametrize(
    ("status", "claimed_ago", "retaken"),
    [
        (NotificationStatus.FAILED, timedelta(0), True),
        (NotificationStatus.SENDING, timedelta(hours=3), True),  # its worker died mid-send
        (NotificationStatus.SENDING, timedelta(seconds=5), False),
        (NotificationStatus.SENT, timedelta(hours=3), False),
        (NotificationStatus.SKIPPED, timedelta(hours=3), False),
    ],
)
def test_a_row_is_taken_again_only_when_it_failed_or_its_take_outlived_the_lease(
    status, claimed_ago, retaken
):
    event = _event()
    public_id = notification_id(order_id=str(event.order.public_id), seq=event.seq)
    first = _claim(event, NotificationKind.CONFIRMED, public_id)
    assert first is not None
    Notification.objects.filter(pk=first.pk).update(
        status=status, claimed_at=timezone.now() - claimed_ago
    )
    again = _claim(event, NotificationKind.CONFIRMED, public_id)
    row = Notification.objects.get(pk=first.pk)
    assert (again is not None) is retaken
    assert (row.status, row.attempts) == (
        (NotificationStatus.SENDING, 2) if retaken else (status, 1)
    )
