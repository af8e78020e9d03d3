"""Durations read as spans, never as clock times ("0:30:00")."""

from datetime import timedelta

import pytest

from mi_admin.ui.spans import span_text


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, ""),
        (timedelta(seconds=42), "42 s"),
        (timedelta(minutes=30), "30 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=1, minutes=30), "1 h 30 min"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=2, hours=3, minutes=5), "2 days 3 h"),
        (timedelta(days=14), "14 days"),
        (timedelta(days=1, minutes=5), "1 day 5 min"),
        (timedelta(minutes=-30), "-30 min"),
    ],
)
def test_a_span_says_its_two_largest_units(value, said):
    assert span_text(value) == said
