"""What the requests app registers with the platform at start-up: its approval subject
kinds (the request, its appeal) and its listener for finished lifecycle operations."""

from __future__ import annotations

from instances.services.operations import register_finished_listener
from mi_admin.approvals.registry import register_subject
from mi_requests.services.execution import request_operation_finished_listener
from mi_requests.services.requests import (
    APPEAL_SUBJECT_KIND,
    SUBJECT_KIND,
    request_approval_decided,
)


def register() -> None:
    register_subject(SUBJECT_KIND, label="Request", on_decided=request_approval_decided)
    register_subject(APPEAL_SUBJECT_KIND, label="Request appeal", on_decided=request_approval_decided)
    register_finished_listener(request_operation_finished_listener)
