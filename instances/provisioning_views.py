"""Provisioning and trial pages: the list of instances being provisioned, starting one,
ticking its checklist, and a trial's end date, conversion and owner.

Everyone with a role sees; DevOps and Admins act (``Perm.OPERATE_INSTANCE``). A refused
action answers with a page that says why and keeps what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from instances import selectors
from instances.choices import ProvisioningStep
from instances.forms import OperationRequestForm
from instances.models import Instance
from instances.provisioning_forms import (
    CheckTickForm,
    CheckUntickForm,
    OwnerForm,
    ProvisionForm,
    TrialConvertForm,
    TrialEndForm,
)
from instances.provisioning_selectors import ProvisioningFilterSet, provisioning_list
from instances.services.operations import OperationConflict
from instances.services.provisioning import (
    instance_provision_start,
    provisioning_check_tick,
    provisioning_check_untick,
    provisioning_terraform_verify,
)
from instances.services.trials import (
    instance_owner_set,
    instance_trial_convert,
    instance_trial_end_set,
)
from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import requires, signed_in_user
from mi_admin.ui.lists import render_list


def _message(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _instance(slug: str) -> Instance:
    instance = selectors.instance_get(slug=slug)
    if instance is None:
        raise Http404(f"No instance {slug}.")
    return instance


def _refused(
    request: HttpRequest,
    *,
    instance: Instance,
    title: str,
    form: forms.Form,
    action: str,
    error: str,
    status: int = 400,
) -> HttpResponse:
    """The action's own page: why it was refused, and the form with what was typed."""
    context = {"instance": instance, "title": title, "form": form, "action": action, "error": error}
    return render(request, "instances/provisioning_action.html", context, status=status)


@requires(Perm.VIEW_FLEET)
@require_GET
def provisioning_page(request: HttpRequest) -> HttpResponse:
    filterset = ProvisioningFilterSet(request.GET, queryset=provisioning_list())
    return render_list(
        request,
        filterset,
        "instances/provisioning_list.html",
        "instances/_provisioning_results.html",
        {"step_count": len(ProvisioningStep)},
    )


@requires(Perm.OPERATE_INSTANCE)
@require_http_methods(["GET", "POST"])
def provision_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "instances/provision_new.html", {"form": ProvisionForm()})
    form = ProvisionForm(request.POST)
    error = ""
    if form.is_valid():
        data: dict[str, Any] = form.cleaned_data
        try:
            instance = instance_provision_start(
                actor=signed_in_user(request),
                reason=data["reason"],
                customer=data["customer"],
                customer_name=data["customer_name"],
                customer_slug=data["customer_slug"],
                slug=data["slug"],
                kind=data["kind"],
                architecture=data["architecture"],
                size=data["size"],
                admin_contact=data["admin_contact"],
                network_access=data["network_access"],
                allowed_cidrs=form.cidr_list(),
                code_host_access=data["code_host_access"],
                url=data["url"],
                gcp_project=data["gcp_project"],
                gcp_zone=data["gcp_zone"],
                vm_name=data["vm_name"],
                owner=data["owner"],
            )
        except ValidationError as exc:
            error = _message(exc)
        else:
            messages.success(
                request, f"Provisioning of {instance.slug} started: work through its checklist."
            )
            return redirect("instances:instance_detail", slug=instance.slug)
    else:
        error = "Some fields need a value or a valid one: see below."
    context = {"form": form, "error": error}
    return render(request, "instances/provision_new.html", context, status=400)


def _instance_action(
    request: HttpRequest,
    *,
    instance: Instance,
    form: forms.Form,
    title: str,
    invalid: str,
    act: Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """One checklist or trial action: a form that does not parse (400) or a service that
    refuses (409) comes back on the action's own page with the reason and what was typed;
    otherwise ``act`` (the service call) returns the success message and we go back to the
    instance page."""
    if not form.is_valid():
        return _refused(
            request, instance=instance, title=title, form=form, action=request.path, error=invalid
        )
    try:
        message = act(form.cleaned_data)
    except ValidationError as exc:
        return _refused(
            request,
            instance=instance,
            title=title,
            form=form,
            action=request.path,
            error=_message(exc),
            status=409,
        )
    messages.success(request, message)
    return redirect("instances:instance_detail", slug=instance.slug)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def provisioning_tick(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)

    def act(data: dict[str, Any]) -> str:
        check = provisioning_check_tick(
            instance=instance, step=data["step"], actor=signed_in_user(request), note=data["note"]
        )
        return f"{check.get_step_display()}: ticked."

    return _instance_action(
        request,
        instance=instance,
        form=CheckTickForm(request.POST),
        title="Tick a box",
        invalid="Choose the step to tick.",
        act=act,
    )


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def provisioning_untick(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)

    def act(data: dict[str, Any]) -> str:
        check = provisioning_check_untick(
            instance=instance,
            step=data["step"],
            actor=signed_in_user(request),
            reason=data["reason"],
        )
        return f"{check.get_step_display()}: unticked."

    return _instance_action(
        request,
        instance=instance,
        form=CheckUntickForm(request.POST),
        title="Untick a box",
        invalid="Choose the step and say why it is unticked.",
        act=act,
    )


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def provisioning_verify(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)
    form = OperationRequestForm(request.POST)
    if not form.is_valid():
        return HttpResponse(
            f"Invalid request: {form.errors.as_text()}", status=400, content_type="text/plain"
        )
    try:
        operation, created = provisioning_terraform_verify(
            instance=instance,
            actor=signed_in_user(request),
            idempotency_key=form.key_for(f"provision-verify:{slug}"),
        )
    except (ValidationError, OperationConflict) as exc:
        text = _message(exc) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
        return redirect("instances:instance_detail", slug=slug)
    if created:
        messages.success(
            request, f"Reading VM {instance.vm_name} from GCP (operation #{operation.pk})."
        )
    else:
        messages.info(request, f"The VM is already being read (operation #{operation.pk}).")
    return redirect("instances:operation_detail", pk=operation.pk)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def trial_end(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)

    def act(data: dict[str, Any]) -> str:
        instance_trial_end_set(
            instance=instance,
            ends_on=data["ends_on"],
            actor=signed_in_user(request),
            reason=data["reason"],
        )
        return f"The trial now ends on {data['ends_on']:%Y-%m-%d}."

    return _instance_action(
        request,
        instance=instance,
        form=TrialEndForm(request.POST),
        title="Change the trial's end date",
        invalid="Give the new end date (YYYY-MM-DD) and say why.",
        act=act,
    )


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def trial_convert(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)

    def act(data: dict[str, Any]) -> str:
        instance_trial_convert(
            instance=instance, actor=signed_in_user(request), reason=data["reason"]
        )
        return f"{slug} is a production instance now."

    return _instance_action(
        request,
        instance=instance,
        form=TrialConvertForm(request.POST),
        title="Convert the trial to production",
        invalid="Say why (e.g. the contract signed).",
        act=act,
    )


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def instance_owner(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)

    def act(data: dict[str, Any]) -> str:
        instance_owner_set(instance=instance, owner=data["owner"], actor=signed_in_user(request))
        return "Owning CE changed."

    return _instance_action(
        request,
        instance=instance,
        form=OwnerForm(request.POST),
        title="Change the owning CE",
        invalid="Pick a person from the list.",
        act=act,
    )
