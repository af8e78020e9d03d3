"""The fleet's API endpoints: thin like the pages (authorize by the declared rule, validate,
one selector or service call, serialize)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from instances import selectors
from instances.api.serializers import (
    INSTANCE,
    InstanceDetailSerializer,
    InstanceSerializer,
    OperationSerializer,
    ReasonInput,
    ReleaseSerializer,
    TeardownInput,
    UpgradeInput,
)
from instances.choices import OperationKind
from instances.filtersets import InstanceFilterSet
from instances.models import Instance, Operation, Release
from instances.services.lifecycle import (
    instance_resume,
    instance_suspend,
    instance_teardown_schedule,
    teardown_approval_for,
)
from instances.services.operations import OperationConflict, operation_create
from instances.services.upgrades import UpgradeRefused, upgrade_request
from instances.versions import ReleaseHistory
from mi_admin.accounts.roles import Perm
from mi_admin.api.extensions import load_fields
from mi_admin.api.idempotency import HEADER, IDEMPOTENCY_PARAMETER, idempotent
from mi_admin.api.pagination import ApiCursorPagination
from mi_admin.api.problems import problem_response
from mi_admin.api.views import ApiView, ApiViewMixin
from mi_admin.api.views import validated as _valid


class BySlug(ApiCursorPagination):
    ordering = "slug"


class ByRelease(ApiCursorPagination):
    ordering = "-released_at"


class InstanceList(ApiViewMixin, generics.ListAPIView):
    """The fleet, filtered with the fleet page's FilterSet (same parameters)."""

    rules = {"GET": Perm.VIEW_FLEET}
    serializer_class = InstanceSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = InstanceFilterSet
    pagination_class = BySlug

    def get_queryset(self) -> QuerySet[Instance]:
        return selectors.instance_list()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        rows = list(self.paginate_queryset(queryset) or [])
        context = {
            **self.get_serializer_context(),
            "version_views": selectors.instance_version_views(rows, ReleaseHistory.load()),
            "extensions": load_fields(INSTANCE, [row.pk for row in rows]),
        }
        data = InstanceSerializer(rows, many=True, context=context).data
        return self.get_paginated_response(data)


class InstanceDetail(ApiView):
    """One instance: version position, version SLA, health, recent operations."""

    rules = {"GET": Perm.VIEW_FLEET}

    @extend_schema(responses=InstanceDetailSerializer)
    def get(self, request: Request, slug: str) -> Response:
        detail = selectors.instance_detail(slug=slug)
        if detail is None:
            raise Http404(f"No instance {slug}.")
        instance = detail.instance
        context = {
            "request": request,
            "version_views": selectors.instance_version_views([instance], detail.releases),
            "extensions": load_fields(INSTANCE, [instance.pk]),
            "recent_operations": detail.recent_operations,
        }
        return Response(InstanceDetailSerializer(instance, context=context).data)


class ReleaseList(ApiViewMixin, generics.ListAPIView):
    """Registered releases, newest first."""

    rules = {"GET": Perm.VIEW_FLEET}
    serializer_class = ReleaseSerializer
    pagination_class = ByRelease
    queryset = Release.objects.all()


class OperationDetail(ApiView):
    """One operation with its step log (poll it to follow an upgrade)."""

    rules = {"GET": Perm.VIEW_FLEET}

    @extend_schema(responses=OperationSerializer)
    def get(self, request: Request, pk: int) -> Response:
        operation = selectors.operation_detail(pk=pk)
        if operation is None:
            raise Http404(f"No operation #{pk}.")
        return Response(OperationSerializer(operation).data)


def _instance(slug: str) -> Instance:
    instance = selectors.instance_get(slug=slug)
    if instance is None:
        raise Http404(f"No instance {slug}.")
    return instance


def _started(operation: Operation) -> Response:
    """202 Accepted: the work runs in the background; the operation's URL follows it."""
    operation = selectors.operation_detail(pk=operation.pk) or operation
    location = reverse("instances_api:operation_detail", kwargs={"pk": operation.pk})
    return Response(OperationSerializer(operation).data, status=202, headers={"Location": location})


def _service_key(request: Request, scope: str) -> str:
    """The service's own idempotency key from the header, scoped to caller and target, so a
    replay that reached the service twice still gets one operation."""
    key = request.headers.get(HEADER, "").strip()
    return f"api:{request.user.pk}:{scope}:{key}"[:128] if key else ""


def _refused(exc: Exception) -> Response:
    if isinstance(exc, OperationConflict):
        return problem_response(409, str(exc), code="conflict")
    messages = exc.messages if isinstance(exc, DjangoValidationError) else [str(exc)]
    return problem_response(400, " ".join(messages), code="refused")


class InstanceSync(ApiView):
    """Sync this instance's facts from GCP now."""

    rules = {"POST": Perm.SYNC_INVENTORY}

    @extend_schema(
        request=None, responses={202: OperationSerializer}, parameters=[IDEMPOTENCY_PARAMETER]
    )
    def post(self, request: Request, slug: str) -> Response:
        instance = _instance(slug)

        def work() -> Response:
            try:
                operation, _created = operation_create(
                    kind=OperationKind.SYNC,
                    actor=request.user,
                    instance=instance,
                    idempotency_key=_service_key(request, f"sync:{slug}"),
                )
            except OperationConflict as exc:
                return _refused(exc)
            return _started(operation)

        return idempotent(request, work)


class InstanceUpgrade(ApiView):
    """Upgrade the instance to a registered release (202; follow the operation)."""

    rules = {"POST": Perm.OPERATE_INSTANCE}

    @extend_schema(
        request=UpgradeInput,
        responses={202: OperationSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request: Request, slug: str) -> Response:
        instance = _instance(slug)
        data = _valid(UpgradeInput, request)

        def work() -> Response:
            try:
                operation, _created = upgrade_request(
                    instance=instance,
                    target=data["target"],
                    actor=request.user,
                    idempotency_key=_service_key(request, f"upgrade:{slug}"),
                )
            except (UpgradeRefused, OperationConflict) as exc:
                return _refused(exc)
            return _started(operation)

        return idempotent(request, work)


class _LifecycleAction(ApiView):
    rules = {"POST": Perm.OPERATE_INSTANCE}
    resume = False

    @extend_schema(
        request=ReasonInput,
        responses={202: OperationSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request: Request, slug: str) -> Response:
        instance = _instance(slug)
        data = _valid(ReasonInput, request)
        service = instance_resume if self.resume else instance_suspend

        def work() -> Response:
            try:
                operation = service(
                    instance=instance,
                    actor=request.user,
                    reason=data["reason"],
                )
            except DjangoValidationError as exc:
                return _refused(exc)
            return _started(operation)

        return idempotent(request, work)


class InstanceSuspend(_LifecycleAction):
    """Suspend an active instance (snapshot, stop)."""


class InstanceResume(_LifecycleAction):
    """Resume a suspended instance."""

    resume = True


class InstanceTeardown(ApiView):
    """Schedule the teardown an approved request allows (countdown, cancellable)."""

    rules = {"POST": Perm.OPERATE_INSTANCE}

    @extend_schema(
        request=TeardownInput,
        responses={202: OperationSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request: Request, slug: str) -> Response:
        instance = _instance(slug)
        data = _valid(TeardownInput, request)
        approval = teardown_approval_for(reference=data["reference"])
        if approval is None or approval.instance_slug != instance.slug:
            return problem_response(
                400,
                f"No approved teardown of {slug} has the reference {data['reference']!r}; a "
                "teardown starts from its approved request.",
                code="refused",
            )

        def work() -> Response:
            try:
                operation = instance_teardown_schedule(
                    instance=instance,
                    actor=request.user,
                    reason=data.get("reason") or approval.reason,
                    typed_name=data["typed_name"],
                    approved_by=approval.approved_by,
                    reference=approval.reference,
                )
            except DjangoValidationError as exc:
                return _refused(exc)
            return _started(operation)

        return idempotent(request, work)
