"""Staff read what was mailed to whom (read-only: the task alone writes these rows)."""

from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "recipient", "status", "attempts", "sent_at", "order")
    list_filter = ("status", "kind")
    search_fields = ("order__public_id", "recipient", "public_id")
    list_select_related = ("order",)
    readonly_fields = (
        "public_id",
        "order",
        "event",
        "kind",
        "recipient",
        "status",
        "attempts",
        "claimed_at",
        "sent_at",
        "last_error",
        "created_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
