"""Fault injection for API methods, and call statistics (counts, errors, peak concurrency).

A fault rule matches method ids such as ``compute.instances.get`` (shell-style patterns like
``compute.instances.*`` work too). It applies to the next ``count`` calls, or to each call
with ``probability``, or to every call when neither is given. It answers ``status`` after
``latency`` seconds; without a status it only adds latency. With ``in_operation`` a
mutation is accepted and its operation ends in that error instead (``reason``, when given,
is the operation's error code, e.g. ``RATE_LIMIT_EXCEEDED``). With ``body`` the call is
answered with that raw text (status 200 unless ``status`` is given) instead of the real
answer: bad data "from GCP". Lone surrogates in it (``"\udcff"``) are sent as the raw byte
(``0xff``), so a test can send bytes that are not UTF-8.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

_ids = itertools.count(1)
_rng = random.SystemRandom()


@dataclass
class FaultRule:
    method: str
    status: int | None = None
    count: int | None = None
    probability: float | None = None
    latency: float = 0.0
    message: str = ""
    reason: str = ""
    in_operation: bool = False
    body: str | None = None
    id: int = field(default_factory=lambda: next(_ids))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def clear(self, method: str | None = None) -> None:
        self.rules = [r for r in self.rules if method is not None and r.method != method]

    def take(self, method: str) -> FaultRule | None:
        """The rule that applies to this call, consuming one use of a counted rule."""
        for rule in self.rules:
            if not fnmatch.fnmatchcase(method, rule.method):
                continue
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                return rule
            if rule.probability is not None:
                if _rng.random() < rule.probability:
                    return rule
                continue
            return rule
        return None


@dataclass
class MethodStats:
    calls: int = 0
    errors: int = 0
    in_flight: int = 0
    peak_concurrency: int = 0


class Stats:
    """Per-method call counts; health endpoints are counted per slug too."""

    def __init__(self) -> None:
        self.methods: defaultdict[str, MethodStats] = defaultdict(MethodStats)
        self.health_by_slug: defaultdict[str, int] = defaultdict(int)
        self.total = MethodStats()
        # Most VMs deploying a new version at one moment (upgrades and rollbacks alike).
        self.deploys_peak = 0

    def deploys(self, count: int) -> None:
        self.deploys_peak = max(self.deploys_peak, count)

    def reset(self) -> None:
        self.deploys_peak = 0
        # Requests in flight keep their counters consistent when they finish.
        in_flight = {m: s.in_flight for m, s in self.methods.items() if s.in_flight}
        self.methods.clear()
        self.health_by_slug.clear()
        total_in_flight = self.total.in_flight
        self.total = MethodStats(in_flight=total_in_flight)
        for method, count in in_flight.items():
            self.methods[method].in_flight = count

    @contextmanager
    def track(self, method: str) -> Iterator[MethodStats]:
        entry = self.methods[method]
        for s in (entry, self.total):
            s.calls += 1
            s.in_flight += 1
            s.peak_concurrency = max(s.peak_concurrency, s.in_flight)
        try:
            yield entry
        finally:
            # reset() may have replaced the objects while this call was in flight.
            for s in (self.methods[method], self.total):
                s.in_flight = max(s.in_flight - 1, 0)

    def error(self, method: str) -> None:
        self.methods[method].errors += 1
        self.total.errors += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "methods": {m: asdict(s) for m, s in sorted(self.methods.items())},
            "total": asdict(self.total),
            "health_by_slug": dict(sorted(self.health_by_slug.items())),
            "deploys": {"peak_concurrency": self.deploys_peak},
        }
