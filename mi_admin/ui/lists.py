"""The list toolkit: every list page renders through here (NetBox's pattern).

One view answers with the whole page, or with the results partial alone when htmx asks (a
filter changed, an auto-refresh, a page link). Invalid filters list nothing and say why
(``includes/filter_errors.html``); the CSV export refuses them with a plain-text 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

PAGE_SIZE = 50


def wants_partial(request: HttpRequest) -> bool:
    """htmx asked for a fragment. A history restore after a cache miss needs the whole
    page, though htmx sent it."""
    htmx = request.htmx  # type: ignore[attr-defined]  # django-htmx middleware
    return bool(htmx) and not htmx.history_restore_request


def render_page_or_partial(
    request: HttpRequest,
    page_template: str,
    partial_template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HttpResponse:
    """The page, or its partial for htmx; caches keep the two apart (``Vary: HX-Request``)."""
    partial = wants_partial(request)
    response = render(
        request, partial_template if partial else page_template, context, status=status
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


def render_list(
    request: HttpRequest,
    filterset: Any,
    page_template: str,
    partial_template: str,
    extra: dict[str, Any] | None = None,
    for_page: Callable[[list[Any]], dict[str, Any]] | None = None,
) -> HttpResponse:
    """The filtered, paginated list. ``for_page`` adds context for the rows of the page
    (a fixed number of queries for the whole page)."""
    valid = filterset.is_valid()
    rows: QuerySet[Any] = filterset.qs if valid else filterset.queryset.none()
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filterset": filterset, "page": page, "query": query.urlencode(), **(extra or {})}
    if for_page is not None:
        context.update(for_page(list(page.object_list)))
    # htmx does not swap 4xx answers, so a partial carries its error message with a 200.
    status = 400 if not valid and not wants_partial(request) else 200
    return render_page_or_partial(request, page_template, partial_template, context, status=status)


def invalid_filters(filterset: Any) -> HttpResponse | None:
    """A plain-text 400 naming the invalid filters of an export, or None when valid."""
    if filterset.is_valid():
        return None
    return HttpResponse(
        f"Invalid filter: {filterset.errors.as_text()}", status=400, content_type="text/plain"
    )


def export_response(
    chunks: Iterable[str], *, name: str, extension: str, content_type: str
) -> StreamingHttpResponse:
    """A streamed download named ``<name>-<UTC stamp>.<extension>``."""
    response = StreamingHttpResponse(chunks, content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{extension}"'
    return response
