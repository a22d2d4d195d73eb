"""Read queries on payments."""

from django.db.models import QuerySet

from .models import Payment, PaymentStatus


def payment_for_order(*, order_id: int) -> Payment | None:
    return Payment.objects.filter(order_id=order_id).first()


def open_authorizations() -> QuerySet[Payment]:
    """Every authorization neither captured nor voided yet (money held on a card)."""
    return Payment.objects.filter(status=PaymentStatus.AUTHORIZED)
