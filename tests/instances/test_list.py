"""The fleet list: filters, search, sort, pages, htmx partials, the CSV export, query count."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from instances.choices import Architecture, Drift, InstanceKind, LifecycleState
from tests.instances.factories import (
    LATEST,
    make_customer,
    make_fleet,
    make_instance,
    make_releases,
)
from tests.instances.pages import FLEET_URL, row_slugs


def _content(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.fixture
def small_fleet(db):
    """Five instances, each distinct on the column a test filters on."""
    make_releases()  # 5.4.0 … 5.9.0, latest 5.9.0
    globex = make_customer("globex", name="Globex Corporation")
    make_instance("acme-prod", observed_version=LATEST, gcp_project="mi-acme-prod-7")
    make_instance(
        "acme-trial",
        kind=InstanceKind.TRIAL,
        architecture=Architecture.V1_0,
        observed_version="",
        vm_version="5.7.0",
    )
    make_instance(
        "globex-prod",
        customer=globex,
        observed_version="5.8.0",
        drift=Drift.VM_STOPPED,
        drift_detail="VM is TERMINATED while the instance is active.",
    )
    make_instance(
        "initech-test",
        kind=InstanceKind.INTERNAL,
        state=LifecycleState.SUSPENDED,
        observed_version="5.4.0",
        drift=Drift.VM_RUNNING,
        url="https://sg.initech.example",
    )
    make_instance("umbrella-prod", state=LifecycleState.REQUESTED)  # no version yet


def test_url_is_the_fleet_list():
    assert reverse("instances:instance_list") == FLEET_URL


def test_default_order_is_customer_then_slug(client_for, small_fleet):
    # given the fleet; when devops opens the list
    response = client_for("devops").get(FLEET_URL)
    # then every instance is there, by customer name then slug, in the full page
    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert row_slugs(response) == [
        "acme-prod",
        "acme-trial",
        "globex-prod",
        "initech-test",
        "umbrella-prod",
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "trial"}, ["acme-trial"]),
        ({"kind": "internal"}, ["initech-test"]),
        ({"architecture": "v1.0"}, ["acme-trial"]),
        ({"state": "suspended"}, ["initech-test"]),
        ({"state": ["suspended", "requested"]}, ["initech-test", "umbrella-prod"]),
        ({"customer": "globex"}, ["globex-prod"]),  # slug
        ({"customer": "corporation"}, ["globex-prod"]),  # name, any case
        ({"version": "5.7.0"}, ["acme-trial"]),  # VM metadata stands in for /__version
        ({"version": "5.9.0"}, ["acme-prod"]),
        ({"behind": "true"}, ["acme-trial", "globex-prod", "initech-test"]),
        ({"behind": "false"}, ["acme-prod"]),
        ({"drift": "any"}, ["globex-prod", "initech-test"]),
        ({"drift": "none"}, ["acme-prod", "acme-trial", "umbrella-prod"]),
        ({"drift": "vm_running"}, ["initech-test"]),
        ({"kind": "production", "drift": "none"}, ["acme-prod", "umbrella-prod"]),
    ],
)
def test_each_filter(client_for, small_fleet, params, expected):
    # given the fleet; when devops filters
    response = client_for("ce").get(FLEET_URL, params)
    # then only the matching instances are listed
    assert response.status_code == 200
    assert row_slugs(response) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("acme", ["acme-prod", "acme-trial"]),  # customer slug and instance slug
        ("GLOBEX CORP", ["globex-prod"]),  # customer name
        ("sg.initech", ["initech-test"]),  # FLEET_URL
        ("mi-acme-prod-7", ["acme-prod"]),  # GCP project
        ("nothing-like-this", []),
    ],
)
def test_search(client_for, small_fleet, q, expected):
    response = client_for("devops").get(FLEET_URL, {"q": q})
    assert row_slugs(response) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("slug", ["acme-prod", "acme-trial", "globex-prod", "initech-test", "umbrella-prod"]),
        ("-slug", ["umbrella-prod", "initech-test", "globex-prod", "acme-trial", "acme-prod"]),
        # by release date, oldest first; an unknown version comes last either way
        ("version", ["initech-test", "acme-trial", "globex-prod", "acme-prod", "umbrella-prod"]),
        ("-version", ["acme-prod", "globex-prod", "acme-trial", "initech-test", "umbrella-prod"]),
        ("state", ["acme-prod", "acme-trial", "globex-prod", "umbrella-prod", "initech-test"]),
        ("kind", ["initech-test", "acme-prod", "globex-prod", "umbrella-prod", "acme-trial"]),
        ("-customer", ["umbrella-prod", "initech-test", "globex-prod", "acme-prod", "acme-trial"]),
    ],
)
def test_sort(client_for, small_fleet, sort, expected):
    response = client_for("devops").get(FLEET_URL, {"sort": sort})
    assert row_slugs(response) == expected


def test_sort_by_last_sync_puts_never_synced_last(client_for, db):
    # given instances synced at different times, one never
    from django.utils import timezone

    now = timezone.now()
    make_instance("a-old", last_synced_at=now.replace(year=now.year - 1))
    make_instance("b-never")
    make_instance("c-new", last_synced_at=now)
    client = client_for("devops")
    # when sorted by last sync, both ways
    newest_first = row_slugs(client.get(FLEET_URL, {"sort": "-last_synced_at"}))
    oldest_first = row_slugs(client.get(FLEET_URL, {"sort": "last_synced_at"}))
    # then the never-synced one sinks to the bottom either way
    assert newest_first == ["c-new", "a-old", "b-never"]
    assert oldest_first == ["a-old", "c-new", "b-never"]


def test_pagination_keeps_the_filters(client_for, db):
    # given 120 production instances among others
    make_fleet(180, with_history=False)
    client = client_for("devops")
    # when devops asks for page 3 of the production ones
    response = client.get(FLEET_URL, {"kind": "production", "page": "3"})
    body = response.content.decode()
    # then 60 match, the third page holds the last 10 of 50 per page, links keep the filter
    assert "60 instances" in body
    assert "Page 2 of 2" in body  # page 3 does not exist: the last page is shown
    assert len(row_slugs(response)) == 10
    assert "kind=production&amp;page=1" in body
    first = client.get(FLEET_URL, {"kind": "production"})
    assert len(row_slugs(first)) == 50
    assert "kind=production&amp;page=2" in first.content.decode()


def test_htmx_gets_the_results_partial_that_refreshes_itself(client_for, small_fleet):
    # given devops; when htmx asks for the list with filters (a filter changed)
    response = client_for("devops").get(
        FLEET_URL, {"kind": "production", "sort": "-slug"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    # then only the results come back, and their 30-second refresh asks for the same filters
    assert response.status_code == 200
    assert "<html" not in body
    assert row_slugs(response) == ["umbrella-prod", "globex-prod", "acme-prod"]
    assert 'hx-trigger="every 30s"' in body
    assert 'hx-get="/instances/?kind=production&amp;sort=-slug"' in body
    assert "HX-Request" in response["Vary"]


def test_full_page_has_filters_that_push_the_url(client_for, small_fleet):
    # given devops; when the list opens with a filter in its FLEET_URL
    response = client_for("devops").get(FLEET_URL, {"kind": "trial"})
    body = response.content.decode()
    # then the filter form drives the results by htmx and keeps the FLEET_URL in step
    assert 'hx-push-url="true"' in body
    assert 'hx-target="#results"' in body
    assert '<option value="trial" selected>' in body
    # and the health columns are there (instances never probed show as unknown)
    assert '<th scope="col" data-col="health">' in body
    assert 'data-col="health"' in body


def test_history_restore_gets_the_full_page(client_for, small_fleet):
    # given htmx restoring a pushed FLEET_URL it no longer has in cache
    response = client_for("devops").get(
        FLEET_URL, {"kind": "trial"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    # then it gets the whole page
    assert "<html" in response.content.decode()


def test_version_column_says_current_or_behind(client_for, small_fleet):
    # given instances on the latest, two behind, and unknown
    body = client_for("devops").get(FLEET_URL).content.decode()
    # then the reader sees it in words
    assert "current" in body
    assert "behind by 2" in body  # 5.7.0 vs 5.9.0
    assert 'title="latest 5.9.0"' in body  # the latest release is the pill's tooltip
    assert "unknown" in body


def test_bad_filter_input_gets_a_clear_error(client_for, small_fleet):
    # given devops; when the FLEET_URL carries values no filter accepts
    client = client_for("devops")
    response = client.get(FLEET_URL, {"kind": "spaceship", "sort": "colour"})
    body = response.content.decode()
    # then the page says which filters are wrong and lists nothing rather than a wrong list
    assert response.status_code == 400
    assert 'data-testid="filter-errors"' in body
    assert "<strong>Kind</strong>" in body
    assert "spaceship is not one of the available choices" in body
    assert "<strong>Sort</strong>" in body
    assert row_slugs(response) == []
    # and htmx (which does not swap error answers) gets the message with a 200
    partial = client.get(FLEET_URL, {"state": "melted"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "melted is not one of the available choices" in partial.content.decode()
    # and a nonsense page number shows a page, not an error
    assert client.get(FLEET_URL, {"page": "last-ish"}).status_code == 200


def test_csv_export_of_the_filtered_list(client_for, small_fleet):
    # given a customer whose name would run as a spreadsheet formula
    make_instance("evil-prod", customer=make_customer("evil", name="=HYPERLINK(1)"))
    # when CE exports the production instances without drift
    response = client_for("ce").get(
        reverse("instances:instance_export"),
        {"kind": "production", "drift": "none", "sort": "slug"},
    )
    rows = list(csv.DictReader(io.StringIO(_content(response))))
    # then the export holds exactly the filtered instances with their facts
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert 'attachment; filename="fleet-' in response["Content-Disposition"]
    assert [r["slug"] for r in rows] == ["acme-prod", "evil-prod", "umbrella-prod"]
    acme = rows[0]
    assert acme["customer"] == "Acme"
    assert acme["version"] == LATEST
    assert acme["releases_behind"] == "0"
    assert acme["latest_release"] == LATEST
    assert acme["gcp_project"] == "mi-acme-prod-7"
    # and the formula is neutralised
    assert rows[1]["customer"] == "'=HYPERLINK(1)"


def test_csv_export_refuses_bad_filters(client_for, small_fleet):
    response = client_for("devops").get(reverse("instances:instance_export"), {"state": "x"})
    assert response.status_code == 400
    assert "state" in response.content.decode()


def test_version_sort_follows_release_dates_not_text(client_for, db):
    # given 5.10.0 released after 5.9.0 (text order would put it first)
    make_releases(["5.9.0", "5.10.0"])
    make_instance("a-prod", observed_version="5.10.0")
    make_instance("b-prod", observed_version="5.9.0")
    # when sorted by version, newest first
    response = client_for("devops").get(FLEET_URL, {"sort": "-version"})
    # then 5.10.0 leads
    assert row_slugs(response) == ["a-prod", "b-prod"]


def test_version_sort_places_unregistered_builds_by_number(client_for, db):
    # given releases 5.8.0 and 5.9.0, a test build 5.10.0 ahead of them, an unregistered
    # 5.8.5 between them, and a version that is not a number
    make_releases(["5.8.0", "5.9.0"])
    make_instance("ahead-test", observed_version="5.10.0")
    make_instance("between-prod", observed_version="5.8.5")
    make_instance("current-prod", observed_version="5.9.0")
    make_instance("old-prod", observed_version="5.8.0")
    make_instance("odd-prod", observed_version="dev-1a2b")
    # when sorted by version, newest first
    response = client_for("devops").get(FLEET_URL, {"sort": "-version"})
    # then builds sort among releases by number; what has no number comes last
    assert row_slugs(response) == [
        "ahead-test",
        "current-prod",
        "between-prod",
        "old-prod",
        "odd-prod",
    ]
