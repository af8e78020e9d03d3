"""Daily rollups of samples: incremented by each sweep, rebuilt when samples are re-flagged.

Days are UTC dates. A row counts every sample of the day (``samples``), the ok samples
outside maintenance (``ok_samples``) and the samples in maintenance (``excluded_samples``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Q

from health.models import HealthDaily, HealthSample

_UPSERT_CHUNK = 500


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def rollups_add_samples(*, samples: Iterable[HealthSample]) -> int:
    """Add new samples to their days' rollups in one upsert statement per chunk.

    The increment happens in SQL (``ON CONFLICT ... DO UPDATE SET n = n + EXCLUDED.n``,
    PostgreSQL and SQLite alike), so concurrent writers never lose a count.
    """
    totals: Counter[tuple[int, date]] = Counter()
    oks: Counter[tuple[int, date]] = Counter()
    excluded: Counter[tuple[int, date]] = Counter()
    for sample in samples:
        key = (sample.instance_id, day_of(sample.probed_at))
        totals[key] += 1
        excluded[key] += int(sample.in_maintenance)
        oks[key] += int(sample.ok and not sample.in_maintenance)
    rows = [
        (iid, day, totals[(iid, day)], oks[(iid, day)], excluded[(iid, day)]) for iid, day in totals
    ]
    for start in range(0, len(rows), _UPSERT_CHUNK):
        _upsert(rows[start : start + _UPSERT_CHUNK])
    return len(rows)


def _upsert(rows: list[tuple[int, date, int, int, int]]) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(HealthDaily._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
    params = [value for row in rows for value in row]
    sql = (
        f"INSERT INTO {table} (instance_id, day, samples, ok_samples, excluded_samples) "  # noqa: S608 (our table name, values are parameters)
        f"VALUES {values} ON CONFLICT (instance_id, day) DO UPDATE SET "
        f"samples = {table}.samples + EXCLUDED.samples, "
        f"ok_samples = {table}.ok_samples + EXCLUDED.ok_samples, "
        f"excluded_samples = {table}.excluded_samples + EXCLUDED.excluded_samples"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def rollups_rebuild(*, instance_id: int, days: Iterable[date]) -> None:
    """Recount the given days of one instance from its raw samples (after re-flagging)."""
    for day in sorted(set(days)):
        start, end = day_bounds(day)
        counts = HealthSample.objects.filter(
            instance_id=instance_id, probed_at__gte=start, probed_at__lt=end
        ).aggregate(
            samples=Count("pk"),
            ok_samples=Count("pk", filter=Q(ok=True, in_maintenance=False)),
            excluded_samples=Count("pk", filter=Q(in_maintenance=True)),
        )
        if counts["samples"] == 0:
            # No raw samples left (pruned): keep whatever the rollup says.
            continue
        HealthDaily.objects.update_or_create(instance_id=instance_id, day=day, defaults=counts)


def days_between(start: datetime, end: datetime) -> list[date]:
    """The UTC days touched by ``[start, end)``."""
    first, last = day_of(start), day_of(end - timedelta(microseconds=1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
