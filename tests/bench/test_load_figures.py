"""bench/load.py's percentiles: the figures it prints are the ones the samples give."""

from __future__ import annotations

import importlib
import math
import sys

import pytest

from tests.deploy.stack import ROOT

sys.path.insert(0, str(ROOT / "bench"))
load = importlib.import_module("load")


def test_percentiles_interpolate_between_samples_in_any_order() -> None:
    samples = [float(ms) for ms in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    p50, p95, p99 = load.percentiles(samples)
    assert (p50, p95, p99) == pytest.approx((50.5, 95.05, 99.01))


def test_percentiles_of_one_sample_and_of_none() -> None:
    assert load.percentiles([42.0]) == (42.0, 42.0, 42.0)
    assert all(math.isnan(value) for value in load.percentiles([]))
