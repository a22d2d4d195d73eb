"""Throttling of order creation per user, at ORDER_CREATE_THROTTLE_RATE."""

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class OrderCreateThrottle(UserRateThrottle):
    """Counts POST /orders/ per user (per IP when anonymous) in the Redis cache, so every web
    process shares one budget. The rate is read from settings on every request rather than from
    DRF's class-level THROTTLE_RATES, so a test (or a settings change) takes effect at once."""

    scope = "order_create"

    def get_rate(self) -> str | None:
        return settings.ORDER_CREATE_THROTTLE_RATE
