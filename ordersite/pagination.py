"""Pagination of list endpoints: page sizes come from settings, and a client may ask for fewer
or more rows per page but never more than API_MAX_PAGE_SIZE."""

from django.conf import settings
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request


class _SettingsPageSize:
    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int:
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE
        return super().get_page_size(request)  # type: ignore[misc]


class NewestFirstCursorPagination(_SettingsPageSize, CursorPagination):
    """Cursor pagination: stable while new orders arrive, and no COUNT(*) over a big table."""

    ordering = ("-created_at", "-id")


class CatalogPagination(_SettingsPageSize, PageNumberPagination):
    """Page numbers for the catalog, which is small and sorted by sku."""
