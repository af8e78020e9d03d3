"""A person's columns of the fleet table (mi_admin/ui/tables.py, services.py, table_views.py):
saved, reset, refused, audited, honoured by the page and its partial, and only theirs."""

from __future__ import annotations

import csv
import io
import re

import pytest

from instances.tables import FLEET_TABLE
from mi_admin.audit.models import AuditEvent
from mi_admin.ui.models import TablePreference
from mi_admin.ui.services import table_preference_reset, table_preference_save
from mi_admin.ui.tables import TableConfigError, table_columns_shown
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance

pytestmark = pytest.mark.django_db

COLUMNS_URL = "/instances/table/columns/"
FLEET_URL = "/instances/"


def _headers(body: str) -> list[str]:
    """The data-col of every header cell, in order."""
    head = body.split("<thead>", 1)[1].split("</thead>", 1)[0]
    return re.findall(r'<th scope="col" data-col="([^"]+)"', head)


def test_every_column_is_offered_including_those_other_apps_register():
    # given the fleet table (health registers its columns in HealthConfig.ready)
    names = [column.name for column in FLEET_TABLE.available()]
    # then the owner's and health's columns are all there, "Last sync" last
    assert names[:8] == [
        "customer",
        "slug",
        "kind",
        "architecture",
        "state",
        "version",
        "version_sla",
        "drift",
    ]
    assert {"health", "uptime_30d", "status_bar"} <= set(names)
    assert names[-1] == "last_synced_at"


def test_saving_shows_only_the_chosen_columns_in_their_order_to_that_person(client_for):
    # given an instance, and devops choosing three columns in their own order
    make_instance("acme-prod")
    devops = client_for("devops")
    response = devops.post(
        COLUMNS_URL,
        {
            "order": ["health", "slug", "customer", "drift"],
            "columns": ["slug", "health", "customer"],
            "query": "kind=production&sort=slug",
            "save": "1",
        },
    )
    # then they are sent back to the list with its filters
    assert response.status_code == 302
    assert response["Location"] == "/instances/?kind=production&sort=slug"
    # and the page and its htmx partial show those columns in that order
    page = devops.get(FLEET_URL).content.decode()
    assert _headers(page) == ["health", "slug", "customer"]
    assert 'data-col="drift"' not in page
    partial = devops.get(FLEET_URL, HTTP_HX_REQUEST="true").content.decode()
    assert _headers(partial) == ["health", "slug", "customer"]
    row = partial.split('data-testid="instance-row"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'<td data-col="([^"]+)"', row) == ["health", "slug", "customer"]
    # and another persona still sees the default columns
    others = _headers(client_for("ce").get(FLEET_URL).content.decode())
    assert others == [column.name for column in FLEET_TABLE.default()]
    assert "drift" in others


def test_saving_is_audited_with_before_and_after(client_for):
    # given devops with columns of their own already
    devops = make_persona("devops")
    table_preference_save(user=devops, table=FLEET_TABLE, names=["slug", "state"])
    # when they save another choice, then the same again
    table_preference_save(user=devops, table=FLEET_TABLE, names=["state", "slug", "health"])
    table_preference_save(user=devops, table=FLEET_TABLE, names=["state", "slug", "health"])
    # then two saves are in the trail (an unchanged choice is no change), the last with both
    events = list(AuditEvent.objects.filter(action="ui.table_columns.saved").order_by("id"))
    assert len(events) == 2
    assert events[0].before == {"columns": None}
    assert events[1].before == {"columns": ["slug", "state"]}
    assert events[1].after == {"columns": ["state", "slug", "health"]}
    assert events[1].actor_id == devops.pk


def test_reset_goes_back_to_the_default_and_is_audited(client_for):
    # given devops with columns of their own
    devops = make_persona("devops")
    table_preference_save(user=devops, table=FLEET_TABLE, names=["slug"])
    # when they press "Reset to default"
    response = client_for("devops").post(COLUMNS_URL, {"reset": "1", "query": ""})
    # then their choice is gone, audited, and the list shows the default columns
    assert response.status_code == 302
    assert response["Location"] == "/instances/"
    assert not TablePreference.objects.filter(user=devops).exists()
    event = AuditEvent.objects.get(action="ui.table_columns.reset")
    assert event.before == {"columns": ["slug"]}
    assert table_columns_shown(table=FLEET_TABLE, user=devops).custom is False
    # and resetting again changes nothing and records nothing
    assert table_preference_reset(user=devops, table=FLEET_TABLE) is False
    assert AuditEvent.objects.filter(action="ui.table_columns.reset").count() == 1


@pytest.mark.parametrize(
    ("posted", "says"),
    [
        ({"order": ["slug", "nonsense"], "columns": ["slug", "nonsense"]}, "Unknown column"),
        ({"order": ["slug"], "columns": ["slug", "<script>"]}, "Unknown column"),
        ({"order": ["slug", "state"], "columns": []}, "at least one column"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(client_for, posted, says):
    # given devops with columns of their own
    devops = make_persona("devops")
    table_preference_save(user=devops, table=FLEET_TABLE, names=["slug", "state"])
    client = client_for("devops")
    events = AuditEvent.objects.filter(action__startswith="ui.").count()
    # when they post unknown columns, or none
    response = client.post(COLUMNS_URL, {**posted, "save": "1"})
    # then the form comes back with the reason, and nothing changed nor was recorded
    assert response.status_code == 400
    body = response.content.decode()
    assert says in body
    assert "'<script>'" not in body  # the name is told back escaped
    assert TablePreference.objects.get(user=devops).columns == ["slug", "state"]
    assert AuditEvent.objects.filter(action__startswith="ui.").count() == events


def test_the_service_refuses_repeats_and_unknown_names():
    devops = make_persona("devops")
    with pytest.raises(TableConfigError, match="twice"):
        table_preference_save(user=devops, table=FLEET_TABLE, names=["slug", "slug"])
    with pytest.raises(TableConfigError, match="Unknown column"):
        table_preference_save(user=devops, table=FLEET_TABLE, names=["slug", "cost"])
    assert not TablePreference.objects.exists()


def test_the_arrows_work_without_scripts_and_save_nothing(client_for):
    # given devops on the form with the default columns
    devops = client_for("devops")
    order = [column.name for column in FLEET_TABLE.available()]
    # when they press "up" on Instance (no script: the button posts)
    response = devops.post(COLUMNS_URL, {"order": order, "columns": order, "move": "slug:up"})
    # then the form comes back with Instance above Customer, nothing saved yet
    assert response.status_code == 200
    listed = re.findall(r'name="order" value="([^"]+)"', response.content.decode())
    assert listed[:2] == ["slug", "customer"]
    assert not TablePreference.objects.exists()


def test_a_column_set_no_longer_registered_is_skipped_not_an_error(client_for):
    # given a saved choice naming a column a later release dropped
    devops = make_persona("devops")
    TablePreference.objects.create(user=devops, table=FLEET_TABLE.name, columns=["gone", "slug"])
    # when devops opens the list, then the rest of their choice is shown
    assert _headers(client_for("devops").get(FLEET_URL).content.decode()) == ["slug"]


def test_hidden_health_columns_are_not_loaded(client_for, django_assert_max_num_queries):
    # given devops showing no health column
    make_instance("acme-prod")
    devops = make_persona("devops")
    table_preference_save(user=devops, table=FLEET_TABLE, names=["slug", "state"])
    client = client_for("devops")
    shown = client.get(FLEET_URL)
    assert _headers(shown.content.decode()) == ["slug", "state"]
    # then the page skips health's two queries (the baseline with them is 9)
    with django_assert_max_num_queries(7):
        client.get(FLEET_URL)


def test_the_export_keeps_every_column_and_follows_the_sort(client_for):
    # given devops showing one column
    make_instance("b-prod")
    make_instance("a-prod")
    devops = make_persona("devops")
    table_preference_save(user=devops, table=FLEET_TABLE, names=["state"])
    # when they export sorted by slug, descending
    response = client_for("devops").get("/instances/export.csv", {"sort": "-slug"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    # then the CSV has all its columns (a stable file for scripts), in the list's order
    assert rows[0][:2] == ["slug", "customer"]
    assert [row[0] for row in rows[1:]] == ["b-prod", "a-prod"]


@pytest.mark.parametrize(("persona", "status"), [("anonymous", 302), ("stranger", 403)])
def test_only_people_who_see_the_fleet_may_save_columns(client_for, persona, status):
    # given someone signed out, or signed in without a role
    client = client_for(persona)
    # when they post a choice of columns
    response = client.post(COLUMNS_URL, {"order": ["slug"], "columns": ["slug"], "save": "1"})
    # then they are refused and nothing is saved
    assert response.status_code == status
    assert not TablePreference.objects.exists()


def test_the_form_is_a_page_or_the_list_pages_panel(client_for):
    # given devops (the list page fetches the form by htmx when "Configure table" opens)
    client = client_for("devops")
    assert 'hx-get="/instances/table/columns/"' in client.get(FLEET_URL).content.decode()
    # when the form is asked for by htmx, then it comes alone; else as a page of its own
    partial = client.get(COLUMNS_URL, HTTP_HX_REQUEST="true").content.decode()
    page = client.get(COLUMNS_URL, {"sort": "health"}).content.decode()
    assert 'data-testid="table-config-form"' in partial
    assert "<html" not in partial
    assert "<html" in page
    assert 'data-testid="column-health"' in page
    assert 'href="/instances/?sort=health"' in page  # back to the list, as it was
