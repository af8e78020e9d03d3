"""The fleet table's own columns (``instances/_instance_row.html`` draws their cells); other
apps add theirs through :func:`mi_admin.ui.extensions.columns`, and each person picks and
orders them (:mod:`mi_admin.ui.tables`)."""

from __future__ import annotations

from mi_admin.ui.extensions import INSTANCE_LIST, Column
from mi_admin.ui.tables import Table

FLEET_TABLE = Table(
    name=INSTANCE_LIST,
    label="the fleet table",
    own=(
        Column("customer", "Customer", sort="customer"),
        Column("slug", "Instance", sort="slug"),
        Column("kind", "Kind", sort="kind"),
        Column(
            "architecture", "Architecture", short="Arch.", title="Architecture", sort="architecture"
        ),
        Column("state", "State", sort="state"),
        Column("version", "Version", sort="version"),
        Column(
            "version_sla",
            "Version SLA",
            short="SLA",
            title="Version SLA: how long until this instance must be on a newer release",
            sort="version_sla",
        ),
        Column("drift", "Drift"),
        Column("last_synced_at", "Last sync", sort="last_synced_at"),
    ),
)
