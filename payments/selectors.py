"""Read queries on payments."""

from .models import Payment


def payment_for_order(*, order_id: int) -> Payment | None:
    return Payment.objects.filter(order_id=order_id).first()
