"""The instance timeline page and its CSV export (sources: :mod:`instances.timeline`)."""

from __future__ import annotations

from collections.abc import Iterator

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from instances.models import Instance
from instances.timeline import (
    EXPORT_LIMIT,
    PAGE_SIZE,
    TimelineEvent,
    instance_timeline,
    timeline_sources,
)
from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import requires
from mi_admin.ui.csv_export import csv_lines
from mi_admin.ui.lists import export_response

CSV_COLUMNS = ("at", "kind", "title", "detail", "actor", "outcome")


class TimelineFilterForm(forms.Form):
    """Which kinds of event, and the page (events older than ``before``)."""

    kind = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    before = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["kind"].choices = [  # type: ignore[attr-defined]
            (source.kind, source.label) for source in timeline_sources()
        ]


def _instance(slug: str) -> Instance:
    instance = Instance.objects.select_related("customer").filter(slug=slug).first()
    if instance is None:
        raise Http404(f"No instance {slug}.")
    return instance


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_timeline_page(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)
    form = TimelineFilterForm(request.GET)
    if not form.is_valid():
        return render(
            request,
            "instances/timeline.html",
            {"instance": instance, "form": form, "page": None},
            status=400,
        )
    page = instance_timeline(
        instance=instance,
        kinds=form.cleaned_data["kind"],
        before=form.cleaned_data["before"],
        limit=PAGE_SIZE,
    )
    older = request.GET.copy()
    if page.older_than is not None:
        older["before"] = page.older_than.isoformat()
    return render(
        request,
        "instances/timeline.html",
        {
            "instance": instance,
            "form": form,
            "page": page,
            "older_query": older.urlencode(),
            "export_query": request.GET.urlencode(),
        },
    )


def _rows(events: list[TimelineEvent]) -> Iterator[dict[str, str]]:
    for event in events:
        yield {
            "at": event.at.isoformat(),
            "kind": event.kind,
            "title": event.title,
            "detail": event.detail,
            "actor": event.actor,
            "outcome": event.outcome,
        }


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_timeline_export(
    request: HttpRequest, slug: str
) -> HttpResponse | StreamingHttpResponse:
    instance = _instance(slug)
    form = TimelineFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            f"Invalid filter: {form.errors.as_text()}", status=400, content_type="text/plain"
        )
    page = instance_timeline(
        instance=instance,
        kinds=form.cleaned_data["kind"],
        before=form.cleaned_data["before"],
        limit=EXPORT_LIMIT,
    )
    return export_response(
        csv_lines(CSV_COLUMNS, _rows(page.events)),
        name=f"timeline-{instance.slug}",
        extension="csv",
        content_type="text/csv",
    )
