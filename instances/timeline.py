"""An instance's whole story on one page: what every app knows happened to it, newest first.

Apps contribute *sources* without ``instances`` importing them (the style of
:func:`instances.runners.register_runner`): each app calls :func:`register_timeline_source`
from its ``AppConfig.ready()`` (a small ``timeline_sources`` module), one call per kind of
event. A source's ``load(instance, before, limit)`` returns at most ``limit`` of its newest
events strictly older than ``before`` (all when None), in one or two queries; the page merges
them, so its query count grows with the number of sources, never with the number of events.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from instances.models import Instance

RowT = TypeVar("RowT", bound=Model)

# The page shows this many events, then an "Older" link; the CSV export takes more.
PAGE_SIZE = 50
EXPORT_LIMIT = 5000


@dataclass(frozen=True)
class TimelineEvent:
    """One thing that happened to an instance. ``outcome`` is a short state word the page
    colours (succeeded, failed, open, resolved...); ``url`` the page that tells more."""

    at: datetime
    kind: str
    title: str
    detail: str = ""
    actor: str = ""
    outcome: str = ""
    url: str = ""

    @property
    def pill(self) -> str:
        """The pill class of ``outcome`` (sources speak many vocabularies; most words are
        shared: succeeded, failed, down, open...)."""
        return "pill pill-" + _TONES.get(self.outcome, "idle")


_TONES = {
    "succeeded": "ok",
    "healthy": "ok",
    "resolved": "ok",
    "done": "ok",
    "active": "ok",
    "closed": "ok",
    "running": "warn",
    "degraded": "warn",
    "upgrading": "warn",
    "pending": "warn",
    "failed": "bad",
    "down": "bad",
    "open": "bad",
    "denied": "bad",
    "revoked": "bad",
}

TimelineLoader = Callable[[Instance, datetime | None, int], list[TimelineEvent]]


def newest_events(
    rows: QuerySet[RowT, Any],
    *,
    at: str,
    before: datetime | None,
    limit: int,
    event: Callable[[RowT], TimelineEvent],
) -> list[TimelineEvent]:
    """The shape every source shares: of ``rows`` (already narrowed to the instance), the
    newest ``limit`` strictly older than ``before`` by the field (or annotation) ``at``, each
    made into an event by ``event``. One query."""
    if before is not None:
        rows = rows.filter(**{f"{at}__lt": before})
    return [event(row) for row in rows.order_by(f"-{at}", "-pk")[:limit]]


@dataclass(frozen=True)
class TimelineSource:
    kind: str
    label: str
    load: TimelineLoader
    order: int


_sources: dict[str, TimelineSource] = {}


def register_timeline_source(
    kind: str, load: TimelineLoader, *, label: str, order: int = 100
) -> None:
    """Add (or, called again from a repeated ``ready()``, replace) the source of ``kind``."""
    _sources[kind] = TimelineSource(kind, label, load, order)


def timeline_sources() -> list[TimelineSource]:
    return sorted(_sources.values(), key=lambda source: (source.order, source.kind))


@dataclass(frozen=True)
class TimelinePage:
    events: list[TimelineEvent]
    # The cursor of the next (older) page: the time of this page's oldest event, or None
    # when nothing older is left.
    older_than: datetime | None


def instance_timeline(
    *,
    instance: Instance,
    kinds: Collection[str] = (),
    before: datetime | None = None,
    limit: int = PAGE_SIZE,
) -> TimelinePage:
    """The newest ``limit`` events of the chosen kinds (all when empty) older than
    ``before``. Each source is asked for ``limit + 1`` so the page knows if more remain."""
    events: list[TimelineEvent] = []
    for source in timeline_sources():
        if kinds and source.kind not in kinds:
            continue
        events.extend(source.load(instance, before, limit + 1))
    events.sort(key=lambda event: event.at, reverse=True)
    page = events[:limit]
    return TimelinePage(page, page[-1].at if len(events) > limit and page else None)
