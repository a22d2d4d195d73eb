"""The "Dead letters" admin page: list, filter, inspect, replay and discard the entries of the
Redis dead-letter list. Staff need the `deadletters.review_dead_letters` permission; every action
goes through services.py and lands in the admin log and, through the hooks, the order's timeline.

It lived at /admin/orders/deadletter/ before the app had its own room: admin_urls.py redirects
those addresses here."""

from typing import Any
from urllib.parse import urlencode

import redis
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from . import hooks, services, store
from .exceptions import DeadLetterNotFoundError
from .models import PERMISSION, DeadLetter

FILTERS = (("task", "task"), ("queue", "queue"), ("exc_type", "exception"))
LIST, DISCARD, DETAIL = (
    "admin:deadletters_deadletter_changelist",
    "admin:deadletters_deadletter_discard",
    "admin:deadletters_deadletter_change",
)


def _filters(params: Any) -> store.Filters:
    return store.filters_from(params, order_id="q")


def _query(filters: store.Filters) -> str:
    pairs = {
        "task": filters.task,
        "queue": filters.queue,
        "exc_type": filters.exc_type,
        "q": filters.order_id,
    }
    return urlencode({k: v for k, v in pairs.items() if v})


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    """No queryset: the page reads Redis through store.py."""

    def index_name(self, label: str) -> str:
        """`Dead letters (n)` on the admin index; the count turns red past the maximum, the alarm
        staff see first (ordersite/admin_site.py asks each model admin for this)."""
        try:
            count = store.dead_letter_count()
        except redis.RedisError:
            return format_html(
                '{} <span class="dlq-count" style="color:#ba2121">(Redis unreachable)</span>', label
            )
        alarm = count > settings.DLQ_MAX_LENGTH
        style = "color:#ba2121;font-weight:bold" if alarm else ""
        css = "dlq-count dlq-alarm" if alarm else "dlq-count"
        return format_html('{} <span class="{}" style="{}">({})</span>', label, css, style, count)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return (
            request.user.is_active and request.user.is_staff and request.user.has_perm(PERMISSION)
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name="deadletters_deadletter_changelist"),
            path("discard/", wrap(self.discard_view), name="deadletters_deadletter_discard"),
            # Named like a model's change page, so the admin's "Recent actions" link to the entry.
            path("<str:entry_id>/", wrap(self.detail_view), name="deadletters_deadletter_change"),
        ]

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title, **extra}

    def _check(self, request: HttpRequest) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        self._check(request)
        filters = _filters(request.GET)
        if request.method == "POST":
            return self._act(request, _filters(request.POST))
        everything = store.entries()
        matched = [entry for entry in everything if filters.match(entry)]
        page = Paginator(matched, settings.DLQ_PAGE_SIZE).get_page(request.GET.get("p"))
        choices = {
            attr: sorted({getattr(e, attr) for e in everything if getattr(e, attr)})
            for attr, _label in FILTERS
        }
        stats = {
            "total": len(everything),
            "max": settings.DLQ_MAX_LENGTH,
            "alarm": len(everything) > settings.DLQ_MAX_LENGTH,
        }
        context = self._context(
            request,
            "Dead letters",
            page=page,
            matched=len(matched),
            filters=filters,
            query=_query(filters),
            choices=[
                (attr, label, choices[attr], getattr(filters, attr)) for attr, label in FILTERS
            ],
            stats=stats,
        )
        return TemplateResponse(request, "admin/deadletters/deadletter/list.html", context)

    def _act(self, request: HttpRequest, filters: store.Filters) -> HttpResponse:
        action = request.POST.get("action", "")
        if request.POST.get("scope") == "matching":
            entry_ids = [entry.id for entry in store.matching(filters)]
        else:
            entry_ids = request.POST.getlist("entry")
        back = f"{reverse(LIST)}?{_query(filters)}"
        if not entry_ids:
            self.message_user(request, "No dead letters selected.", level=messages.WARNING)
            return HttpResponseRedirect(back)
        if action == "discard":
            ids = urlencode([("entry", i) for i in entry_ids] + [("next", back)])
            return HttpResponseRedirect(f"{reverse(DISCARD)}?{ids}")
        if action != "replay":
            self.message_user(request, "Unknown action.", level=messages.ERROR)
            return HttpResponseRedirect(back)
        sent, problems = services.replay_many(
            entry_ids=entry_ids, actor=request.user.get_username(), user=request.user
        )
        self._report(request, f"Replayed {sent} dead letter(s).", sent, problems)
        return HttpResponseRedirect(back)

    def _report(
        self, request: HttpRequest, done_message: str, done: int, problems: list[str]
    ) -> None:
        if done:
            self.message_user(request, done_message, level=messages.SUCCESS)
        for problem in problems[:20]:
            self.message_user(request, problem, level=messages.WARNING)

    def detail_view(self, request: HttpRequest, entry_id: str) -> HttpResponse:
        self._check(request)
        if request.method == "POST":
            sent, problems = services.replay_many(
                entry_ids=[entry_id], actor=request.user.get_username(), user=request.user
            )
            self._report(request, f"Replayed dead letter {entry_id}.", sent, problems)
            return HttpResponseRedirect(reverse(LIST))
        try:
            entry = store.get(entry_id)
        except DeadLetterNotFoundError as exc:
            self.message_user(request, exc.message, level=messages.WARNING)
            return HttpResponseRedirect(reverse(LIST))
        context = self._context(
            request, f"Dead letter {entry.id}", entry=entry, subject=hooks.subject(entry)
        )
        return TemplateResponse(request, "admin/deadletters/deadletter/detail.html", context)

    def discard_view(self, request: HttpRequest) -> HttpResponse:
        """Confirmation page: the reason is required, and recorded with every entry discarded."""
        self._check(request)
        params = request.POST if request.method == "POST" else request.GET
        entry_ids = params.getlist("entry")
        back = params.get("next") or reverse(LIST)
        if not back.startswith(reverse(LIST)):
            back = reverse(LIST)
        reason = params.get("reason", "").strip()
        if request.method == "POST" and reason:
            done, problems = services.discard_many(
                entry_ids=entry_ids,
                actor=request.user.get_username(),
                reason=reason,
                user=request.user,
            )
            self._report(request, f"Discarded {done} dead letter(s).", done, problems)
            return HttpResponseRedirect(back)
        context = self._context(
            request,
            "Discard dead letters",
            entry_ids=entry_ids,
            back=back,
            error="A reason is required." if request.method == "POST" else "",
        )
        return TemplateResponse(request, "admin/deadletters/deadletter/discard.html", context)
