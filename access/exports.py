"""The access-review export (SOC2): who had what on which instance, when, requested why,
approved by whom, ended how, and when the removal of the binding (or of the Okta group
membership) was verified."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from access.models import AccessGrant
from mi_admin.ui.csv_export import csv_lines

COLUMNS = [
    "grant",
    "person",
    "member",
    "instance",
    "customer",
    "level",
    "roles",
    "okta_group",
    "state",
    "requested_at",
    "justification",
    "ticket_url",
    "consent_ref",
    "approved_by",
    "approved_at",
    "activated_at",
    "expires_at",
    "ended_at",
    "ended_by",
    "end_reason",
    "binding_removal_verified_at",
]


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _row(grant: AccessGrant) -> dict[str, Any]:
    approval = grant.approval_request
    reviewers = [str(r.reviewer) for r in approval.reviews.all()] if approval else []
    return {
        "grant": grant.pk,
        "person": str(grant.requester),
        "member": grant.member,
        "instance": grant.instance.slug,
        "customer": str(grant.instance.customer),
        "level": grant.level.name,
        "roles": list(grant.level.iam_roles),
        "okta_group": grant.okta_group,
        "state": grant.state,
        "requested_at": _stamp(grant.created_at),
        "justification": grant.justification,
        "ticket_url": grant.ticket_url,
        "consent_ref": grant.consent_ref,
        "approved_by": reviewers,
        "approved_at": _stamp(grant.approved_at),
        "activated_at": _stamp(grant.activated_at),
        "expires_at": _stamp(grant.expires_at),
        "ended_at": _stamp(grant.ended_at),
        "ended_by": str(grant.ended_by) if grant.ended_by else ("system" if grant.ended_at else ""),
        "end_reason": grant.end_reason,
        "binding_removal_verified_at": _stamp(grant.binding_verified_removed_at),
    }


def _rows(grants: QuerySet[AccessGrant]) -> Iterator[dict[str, Any]]:
    return (_row(grant) for grant in grants.iterator(chunk_size=500))


def csv_rows(grants: QuerySet[AccessGrant]) -> Iterator[str]:
    return csv_lines(COLUMNS, _rows(grants))


def json_chunks(grants: QuerySet[AccessGrant]) -> Iterable[str]:
    yield "["
    for index, row in enumerate(_rows(grants)):
        yield ("," if index else "") + json.dumps(row, sort_keys=True)
    yield "]"
