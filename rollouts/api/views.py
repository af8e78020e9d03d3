"""The rollouts API: thin like the pages (authorize by the declared rule, validate, one
service call, serialize the status). The services decide and refuse with the sentence to
show; the same permissions as the rollout pages (read: view the fleet; act: operate)."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Perm
from mi_admin.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from mi_admin.api.pagination import Newest
from mi_admin.api.problems import problem_response
from mi_admin.api.views import ApiView, ApiViewMixin
from mi_admin.api.views import validated as _valid
from rollouts import selectors
from rollouts.api.serializers import (
    RolloutActionInput,
    RolloutDetailSerializer,
    RolloutPlanInput,
    RolloutSerializer,
)
from rollouts.filtersets import RolloutFilterSet
from rollouts.models import Rollout
from rollouts.services import (
    RolloutError,
    rollout_abort,
    rollout_create,
    rollout_pause,
    rollout_resume,
    rollout_start,
)


def _rollout(pk: int) -> Rollout:
    rollout = selectors.rollout_get(pk=pk)
    if rollout is None:
        raise Http404(f"No rollout #{pk}.")
    return rollout


def _answer(pk: int, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    rollout = selectors.rollout_detail(pk=pk)
    if rollout is None:
        raise Http404(f"No rollout #{pk}.")
    return Response(RolloutDetailSerializer(rollout).data, status=status, headers=headers)


def _refused(exc: Exception) -> Response:
    return problem_response(400, str(exc), code="refused")


class RolloutList(ApiViewMixin, generics.ListAPIView):
    """Rollouts, newest first (``state``, ``release`` filter as on the page); POST plans
    one of a release (planned: nothing starts until it is started)."""

    rules = {"GET": Perm.VIEW_FLEET, "POST": Perm.OPERATE_INSTANCE}
    serializer_class = RolloutSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = RolloutFilterSet
    pagination_class = Newest

    def get_queryset(self) -> QuerySet[Rollout]:
        return selectors.rollout_list()

    @extend_schema(
        request=RolloutPlanInput,
        responses={201: RolloutDetailSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request: Request) -> Response:
        data = _valid(RolloutPlanInput, request)
        release = selectors.release_by_version(version=data["version"])
        if release is None:
            return problem_response(
                400, f"No release {data['version']} is registered.", code="refused"
            )

        def work() -> Response:
            try:
                rollout = rollout_create(
                    release=release,
                    actor=request.user,
                    failure_budget=data["failure_budget"],
                    hold_seconds=data["hold_seconds"],
                    only_in_maintenance_windows=data["only_in_maintenance_windows"],
                )
            except RolloutError as exc:
                return _refused(exc)
            location = reverse("rollouts_api:rollout_detail", kwargs={"pk": rollout.pk})
            return _answer(rollout.pk, status=201, headers={"Location": location})

        return idempotent(request, work)


class RolloutDetail(ApiView):
    """A rollout's status: release, state, counts, and each wave with its instances."""

    rules = {"GET": Perm.VIEW_FLEET}

    @extend_schema(responses=RolloutDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return _answer(pk)


Action = Callable[[Rollout, User, str], object]


class _RolloutAction(ApiView):
    """One action of the rollout's page; refused (400) with the service's sentence when the
    rollout's state does not allow it."""

    rules = {"POST": Perm.OPERATE_INSTANCE}
    # Not ``action``: DRF and drf-spectacular read that name as the viewset action.
    perform: Action

    @extend_schema(
        request=RolloutActionInput,
        responses={200: RolloutDetailSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request: Request, pk: int) -> Response:
        rollout = _rollout(pk)
        reason = _valid(RolloutActionInput, request).get("reason") or ""

        def work() -> Response:
            try:
                type(self).perform(rollout, request.user, reason)
            except RolloutError as exc:
                return _refused(exc)
            return _answer(pk)

        return idempotent(request, work)


class RolloutStart(_RolloutAction):
    """Start a planned rollout (its waves then run on their schedule)."""

    @staticmethod
    def perform(rollout: Rollout, actor: User, reason: str) -> object:
        return rollout_start(rollout=rollout, actor=actor)


class RolloutPause(_RolloutAction):
    """Pause a running rollout (a reason is required): upgrades under way finish."""

    @staticmethod
    def perform(rollout: Rollout, actor: User, reason: str) -> object:
        return rollout_pause(rollout=rollout, actor=actor, reason=reason)


class RolloutResume(_RolloutAction):
    """Resume a paused rollout."""

    @staticmethod
    def perform(rollout: Rollout, actor: User, reason: str) -> object:
        return rollout_resume(rollout=rollout, actor=actor)


class RolloutAbort(_RolloutAction):
    """Abort (a reason is required): nothing new starts; upgrades in flight finish."""

    @staticmethod
    def perform(rollout: Rollout, actor: User, reason: str) -> object:
        return rollout_abort(rollout=rollout, actor=actor, reason=reason)
