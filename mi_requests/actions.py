"""The actions on a request, by who takes them: the handler's (DevOps, Admins) and the
requester's. Shared by the request's page and the API (``POST /api/v1/requests/{id}/act/``),
so both map an action name to the same service call."""

from __future__ import annotations

from mi_requests.services import execution
from mi_requests.services import requests as services

HANDLER_ACTIONS = {
    "acknowledge": lambda r, actor, data: services.request_acknowledge(
        request=r, actor=actor, comment=data["comment"]
    ),
    "ask": lambda r, actor, data: services.request_ask(
        request=r, actor=actor, question=data["comment"]
    ),
    "start": lambda r, actor, data: services.request_start_manual(
        request=r, actor=actor, comment=data["comment"]
    ),
    "finish": lambda r, actor, data: services.request_finish(
        request=r, actor=actor, comment=data["comment"]
    ),
    "approval_again": lambda r, actor, data: services.request_approval_again(
        request=r, actor=actor
    ),
    "run": lambda r, actor, data: execution.request_execute(
        request=r, actor=actor, typed_name=data["typed_name"]
    ),
    "cancel_teardown": lambda r, actor, data: execution.request_teardown_cancel(
        request=r, actor=actor, reason=data["comment"]
    ),
    "provision": lambda r, actor, data: execution.request_provision(
        request=r, actor=actor, slug=data["slug"]
    ),
    "extend_trial": lambda r, actor, data: execution.request_trial_extend(request=r, actor=actor),
}
REQUESTER_ACTIONS = {
    "withdraw": lambda r, actor, data: services.request_withdraw(
        request=r, actor=actor, reason=data["comment"]
    ),
    "answer": lambda r, actor, data: services.request_answer(
        request=r, actor=actor, answer=data["comment"]
    ),
    "appeal": lambda r, actor, data: services.request_appeal(
        request=r, actor=actor, reason=data["comment"]
    ),
    "comment": lambda r, actor, data: services.request_comment(
        request=r, actor=actor, comment=data["comment"]
    ),
}
DONE_MESSAGES = {
    "acknowledge": "Acknowledged; the response clock stopped.",
    "ask": "Question sent; the request waits on its requester.",
    "start": "Work started.",
    "finish": "Marked done.",
    "approval_again": "Approval asked for again.",
    "run": "Operation started.",
    "cancel_teardown": "Teardown cancelled; nothing was deleted.",
    "provision": "Provisioning started; the request is done when the instance goes live.",
    "extend_trial": "The trial's end date moved; the request is done.",
    "withdraw": "Request withdrawn.",
    "answer": "Answer sent; the request resumes.",
    "appeal": "Appeal filed; an Admin decides.",
    "comment": "Comment added.",
}
