"""Cursor pagination: stable pages while the fleet changes underneath (no offsets)."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class ApiCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    # Views set their own unique ordering; this is the fallback.
    ordering = "-pk"


class Newest(ApiCursorPagination):
    """Newest first, by primary key (a stable order cursor pages need)."""

    ordering = "-pk"
