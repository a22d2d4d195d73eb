"""Query-string filters of GET /api/v1/orders/."""

from datetime import UTC, datetime

import django_filters
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from .models import Order
from .states import OrderStatus


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 in any offset, compared in UTC: PostgreSQL refuses offsets past +-15:59, which
    ISO 8601 allows, and a date that leaves the calendar in UTC is a 400, not a 500."""

    def filter(self, qs: QuerySet, value: datetime | None) -> QuerySet:
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError as exc:
                raise ValidationError({self.field_name: ["Out of range."]}) from exc
        return super().filter(qs, value)


class OrderFilter(django_filters.FilterSet):
    # distinct=False: a status filter joins nothing, and SELECT DISTINCT would sort every match
    # before the first page (a sort of all cancelled orders, not an index walk).
    status = django_filters.MultipleChoiceFilter(
        choices=OrderStatus.choices,
        distinct=False,
        help_text="One or more statuses (repeat the parameter).",
    )
    created_after = UtcDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="ISO 8601; orders created at or after.",
    )
    created_before = UtcDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601; orders created before."
    )

    class Meta:
        model = Order
        fields = ("status", "created_after", "created_before")
