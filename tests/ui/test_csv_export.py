"""Every CSV export is safe to open in a spreadsheet: a cell starting with any formula prefix
(``=``, ``+``, ``-``, ``@``, tab, carriage return) is neutralised with a leading quote."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from mi_admin.ui.csv_export import csv_lines, csv_safe
from tests.instances.factories import make_customer, make_instance

PREFIXES = ["=", "+", "-", "@", "\t", "\r"]


@pytest.mark.parametrize("prefix", PREFIXES, ids=["eq", "plus", "minus", "at", "tab", "cr"])
def test_every_formula_prefix_is_neutralised(prefix):
    # given a value starting with a formula prefix
    value = f"{prefix}HYPERLINK(1)"
    # when written as CSV and read back
    lines = "".join(csv_lines(["cell"], [{"cell": value}]))
    row = next(csv.DictReader(io.StringIO(lines, newline="")))
    # then the cell reads as text, with its content intact after the quote
    assert csv_safe(value) == "'" + value
    assert row["cell"] == "'" + value


def test_plain_values_are_left_alone():
    assert [csv_safe(v) for v in ("acme", "6.9.1", 3, None, " =1")] == [
        "acme",
        "6.9.1",
        "3",
        "",
        " =1",
    ]


@pytest.mark.django_db
def test_fleet_export_neutralises_every_prefix(client_for):
    # given customers whose names start with each formula prefix
    for n, prefix in enumerate(PREFIXES):
        make_instance(f"c{n}-prod", customer=make_customer(f"c{n}", name=f"{prefix}cmd|calc"))
    # when the fleet list is exported
    response = client_for("ce").get(reverse("instances:instance_export"), {"sort": "slug"})
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    # then every customer cell starts with the quote
    assert [r["customer"] for r in rows] == [f"'{prefix}cmd|calc" for prefix in PREFIXES]
