"""The requests API: thin like the pages (authorize by the declared rule, validate with the
page's own forms, one service call, serialize). Who sees which request is the queue's rule
(``selectors.requests_visible_to``); the services decide and refuse with the sentence."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from mi_admin.accounts.roles import Perm, roles_with, user_can
from mi_admin.accounts.rules import signed_in_user
from mi_admin.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from mi_admin.api.pagination import Newest
from mi_admin.api.problems import problem_response
from mi_admin.api.views import ApiView, ApiViewMixin
from mi_admin.api.views import validated as _valid
from mi_requests import selectors
from mi_requests.actions import HANDLER_ACTIONS, REQUESTER_ACTIONS
from mi_requests.api.serializers import (
    ActInput,
    RequestDetailSerializer,
    RequestInput,
    RequestSerializer,
)
from mi_requests.filtersets import ApiRequestFilterSet
from mi_requests.forms import INTAKE_FORMS
from mi_requests.models import CustomerRequest
from mi_requests.services.requests import RequestError, request_submit


def _refused(exc: Exception) -> Response:
    return problem_response(400, str(exc), code="refused")


def _answer(request: Request, pk: int, status: int = 200, **extra: Any) -> Response:
    detail = selectors.request_detail(pk=pk, viewer=signed_in_user(request))
    if detail is None:
        raise Http404(f"No request #{pk} that you may see.")
    context = {
        "clocks": {pk: detail.clocks},
        "events": detail.events,
        "actions": detail.handler_actions | detail.requester_actions,
    }
    data = RequestDetailSerializer(detail.request, context=context).data
    return Response(data, status=status, **extra)


class RequestList(ApiViewMixin, generics.ListAPIView):
    """The requests the caller may see (DevOps, managers, Admins: all; CE and Sales: their
    own and their customers'), newest first, with the queue's filters (``mine=true``: the
    caller's own). POST files one through the kind's intake form."""

    rules = {"GET": Perm.FILE_REQUEST, "POST": Perm.FILE_REQUEST}
    serializer_class = RequestSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ApiRequestFilterSet
    pagination_class = Newest

    def get_queryset(self) -> QuerySet[CustomerRequest]:
        if getattr(self, "swagger_fake_view", False):  # the schema is built with no caller
            return CustomerRequest.objects.none()
        return selectors.requests_visible_to(user=signed_in_user(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        rows = list(self.paginate_queryset(queryset) or [])
        context = {**self.get_serializer_context(), "clocks": selectors.queue_rows(rows)}
        data = RequestSerializer(rows, many=True, context=context).data
        return self.get_paginated_response(data)

    @extend_schema(
        request=RequestInput,
        responses={201: RequestDetailSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request: Request) -> Response:
        data = _valid(RequestInput, request)
        fields = {key: value for key, value in request.data.items() if key != "kind"}
        form = INTAKE_FORMS[data["kind"]](fields)
        if not form.is_valid():
            errors = {key: [str(m) for m in messages] for key, messages in form.errors.items()}
            sentence = " ".join(
                f"{key}: {' '.join(messages)}" if key != "__all__" else " ".join(messages)
                for key, messages in errors.items()
            )
            return problem_response(400, sentence, code="invalid", errors=errors)

        def work() -> Response:
            try:
                created = request_submit(
                    requester=signed_in_user(request), kind=data["kind"], **form.service_kwargs()
                )
            except RequestError as exc:
                return _refused(exc)
            location = reverse("mi_requests_api:request_detail", kwargs={"pk": created.pk})
            return _answer(request, created.pk, status=201, headers={"Location": location})

        return idempotent(request, work)


class RequestDetail(ApiView):
    """One request the caller may see: its timeline, SLA clocks and the actions open to
    the caller."""

    rules = {"GET": Perm.FILE_REQUEST}

    @extend_schema(responses=RequestDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return _answer(request, pk)


class RequestAct(ApiView):
    """Act on a request as on its page: the requester's actions (withdraw, answer, appeal,
    comment) and the handler's (acknowledge, ask, start, finish, ...; DevOps and Admins).
    The service refuses what the request's state does not allow."""

    rules = {"POST": Perm.FILE_REQUEST}

    @extend_schema(request=ActInput, responses={200: RequestDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = signed_in_user(request)
        target = selectors.requests_visible_to(user=user).filter(pk=pk).first()
        if target is None:
            raise Http404(f"No request #{pk} that you may see.")
        data = _valid(ActInput, request)
        action = data["action"]
        if action in REQUESTER_ACTIONS:
            service = REQUESTER_ACTIONS[action]
        elif user_can(user, Perm.HANDLE_REQUEST):
            service = HANDLER_ACTIONS[action]
        else:
            roles = " or ".join(role.label for role in roles_with(Perm.HANDLE_REQUEST))
            return problem_response(
                403,
                f"{action!r} is a handler's action; it needs the role {roles}.",
                code="permission_denied",
            )
        values = {
            "comment": data.get("comment") or "",
            "typed_name": data.get("typed_name") or "",
            "slug": data.get("slug") or "",
        }
        # Not under Idempotency-Key: an action that runs an operation decides on commit, and
        # a retried action is refused by the workflow (the state moved on).
        try:
            service(target, user, values)
        except RequestError as exc:
            return _refused(exc)
        return _answer(request, pk)
