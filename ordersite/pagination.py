"""Pagination of list endpoints and admin lists: page sizes come from settings, and a client may
ask for fewer or more rows per page but never more than API_MAX_PAGE_SIZE."""

from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import cached_property
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request


class _SettingsPageSize:
    page_size_query_param: str | None = "page_size"

    def get_page_size(self, request: Request) -> int:
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE
        return super().get_page_size(request)  # type: ignore[misc]


class NewestFirstCursorPagination(_SettingsPageSize, CursorPagination):
    """Cursor pagination: stable while new orders arrive, and no COUNT(*) over a big table."""

    ordering = ("-created_at", "-id")


class CatalogPagination(_SettingsPageSize, PageNumberPagination):
    """Page numbers for the catalog, which is small and sorted by sku."""


class CappedCountPaginator(Paginator):
    """The admin's paginator for tables that grow without end. Django counts every matching row
    on each list page (COUNT(*) over a million orders is most of a second); this counts at most
    ADMIN_COUNT_CAP of them, and takes PostgreSQL's estimate for the unfiltered table."""

    object_list: QuerySet[Any]  # the admin pages querysets

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            estimate = _estimated_rows(queryset.model._meta.db_table)
            if estimate > settings.ADMIN_COUNT_CAP:
                return estimate
        return queryset[: settings.ADMIN_COUNT_CAP].count()


def _estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] and row[0] > 0 else 0
