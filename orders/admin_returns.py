"""Returns in the admin: staff approve, refuse and receive them through the services (the same
ones the API calls); a received return is refunded by the payments worker."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from inventory import services as inventory_services
from ordersite import logs
from ordersite.errors import DomainError

from . import services_returns
from .models import ReturnLine, ReturnRequest
from .states import LineCondition


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    fields = ("item", "quantity", "condition")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    list_display = ("public_id", "order", "status", "amount_cents", "created_at", "updated_at")
    list_filter = ("status", "created_at")
    search_fields = ("public_id", "order__public_id")
    list_select_related = ("order",)
    inlines = (ReturnLineInline,)
    actions = ("approve", "refuse", "receive_restockable", "receive_damaged")

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in ReturnRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def _each(
        self, request: HttpRequest, queryset: QuerySet[ReturnRequest], act: Callable, done_text: str
    ) -> None:
        done = 0
        for ret in queryset:
            try:
                with logs.order_scope():
                    act(ret, request.user.get_username())
                done += 1
            except DomainError as exc:
                self.message_user(request, exc.message, level=messages.WARNING)
        if done:
            self.message_user(request, f"{done} return(s) {done_text}.", level=messages.SUCCESS)

    @admin.action(description="Approve selected returns")
    def approve(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        def act(ret: ReturnRequest, actor: str) -> None:
            services_returns.decide_return(return_id=str(ret.public_id), approve=True, actor=actor)

        self._each(request, queryset, act, "approved")

    @admin.action(description="Refuse selected returns")
    def refuse(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        def act(ret: ReturnRequest, actor: str) -> None:
            services_returns.decide_return(return_id=str(ret.public_id), approve=False, actor=actor)

        self._each(request, queryset, act, "refused")

    def _receive(
        self, request: HttpRequest, queryset: QuerySet[ReturnRequest], condition: LineCondition
    ) -> None:
        """Every line in one condition (the API takes a condition per line)."""

        def act(ret: ReturnRequest, actor: str) -> None:
            skus = ret.lines.values_list("item__sku", flat=True)
            inventory_services.receive_return(
                return_id=str(ret.public_id), conditions=dict.fromkeys(skus, condition), actor=actor
            )

        self._each(request, queryset, act, f"received ({condition}); the refund is on its way")

    @admin.action(
        description="Mark received: every line restockable (back on the shelf), then refund"
    )
    def receive_restockable(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        self._receive(request, queryset, LineCondition.RESTOCKABLE)

    @admin.action(description="Mark received: every line damaged (not restocked), then refund")
    def receive_damaged(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        self._receive(request, queryset, LineCondition.DAMAGED)
