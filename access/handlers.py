"""What the access app registers with the platform at start-up: its approval subject kind
and the runners of the grant and revoke operations."""

from __future__ import annotations

from access.runners import run_grant, run_revoke
from access.selectors import access_review_lines
from access.services import (
    EXTENSION_KIND,
    SUBJECT_KIND,
    access_extension_decided,
    access_grant_decided,
)
from instances.choices import OperationKind
from instances.runners import register_runner
from mi_admin.approvals.registry import register_subject


def register() -> None:
    register_subject(
        SUBJECT_KIND,
        label="Access grant",
        on_decided=access_grant_decided,
        review_context=access_review_lines,
    )
    register_subject(
        EXTENSION_KIND,
        label="Access extension",
        on_decided=access_extension_decided,
        review_context=access_review_lines,
    )
    register_runner(OperationKind.GRANT, run_grant)
    register_runner(OperationKind.REVOKE, run_revoke)
