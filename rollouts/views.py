"""The rollout pages: list, plan and start, live progress, actions, the fleet freeze."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import requires, signed_in_user
from mi_admin.ui.csv_export import csv_lines
from mi_admin.ui.lists import export_response, render_list, render_page_or_partial
from rollouts import selectors
from rollouts.filtersets import RolloutFilterSet
from rollouts.forms import (
    ActionForm,
    FreezeForm,
    HoldForm,
    MoveForm,
    PlanForm,
    ShareForm,
    TargetActionForm,
)
from rollouts.models import Rollout, RolloutState
from rollouts.services import (
    RolloutError,
    fleet_freeze_lift,
    fleet_freeze_set,
    rollout_abort,
    rollout_create,
    rollout_pause,
    rollout_plan,
    rollout_resume,
    rollout_schedule_waiver_request,
    rollout_start,
    rollout_target_move,
    rollout_target_retry,
    rollout_target_skip,
    rollout_wave_hold_set,
    rollout_wave_share_set,
)


@requires(Perm.VIEW_FLEET)
@require_GET
def rollout_list(request: HttpRequest) -> HttpResponse:
    filterset = RolloutFilterSet(request.GET, queryset=selectors.rollout_list())
    return render_list(
        request,
        filterset,
        "rollouts/rollout_list.html",
        "rollouts/_rollout_results.html",
        {"freeze": selectors.fleet_freeze(), "freeze_form": FreezeForm()},
    )


@requires(Perm.OPERATE_INSTANCE)
@require_http_methods(["GET", "POST"])
def rollout_new(request: HttpRequest) -> HttpResponse:
    """GET ?release=: the plan shown; POST: the plan saved (started from its page)."""
    data = request.POST if request.method == "POST" else (request.GET or None)
    form = PlanForm(data)
    context: dict[str, object] = {"form": form}
    if form.is_bound and form.is_valid():
        release = form.cleaned_data["release"]
        if request.method == "POST":
            try:
                rollout = rollout_create(
                    release=release,
                    actor=signed_in_user(request),
                    failure_budget=form.cleaned_data["failure_budget"],
                    hold_seconds=form.cleaned_data["hold_seconds"],
                    only_in_maintenance_windows=form.cleaned_data["only_in_maintenance_windows"],
                )
            except RolloutError as exc:
                context["error"] = str(exc)
                return render(request, "rollouts/rollout_new.html", context, status=400)
            messages.success(
                request, f"Rollout of {release.version} planned: adjust it if needed, then start."
            )
            return redirect("rollouts:rollout_detail", pk=rollout.pk)
        context["plan"] = rollout_plan(
            release=release, hold_seconds=form.cleaned_data["hold_seconds"]
        )
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "rollouts/rollout_new.html", context, status=status)


def _rollout_or_404(pk: int) -> Rollout:
    rollout = selectors.rollout_detail(pk=pk)
    if rollout is None:
        raise Http404(f"No rollout #{pk}.")
    return rollout


def _rollout_plain_or_404(pk: int) -> Rollout:
    rollout = selectors.rollout_get(pk=pk)
    if rollout is None:
        raise Http404(f"No rollout #{pk}.")
    return rollout


@requires(Perm.VIEW_FLEET)
@require_GET
def rollout_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rollout = _rollout_or_404(pk)
    context = {
        "rollout": rollout,
        # Paused and planned rollouts change only by a person's action: no polling, so the
        # reason a person types for a skip is not swapped away.
        "live": rollout.state in (RolloutState.RUNNING, RolloutState.ABORTING),
        "freeze": selectors.fleet_freeze(),
        "projection": selectors.rollout_projection(rollout=rollout, now=timezone.now()),
        "restarted_by": selectors.rollout_restarted_by(rollout=rollout),
    }
    # The live block polls this URL every 2 s while the rollout moves on its own.
    return render_page_or_partial(
        request, "rollouts/rollout_detail.html", "rollouts/_rollout_live.html", context
    )


@requires(Perm.VIEW_FLEET)
@require_GET
def rollout_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The evidence: each upgrade with the test-instance upgrade that preceded it, its
    snapshot and its health summary; test instances first."""
    rollout = _rollout_plain_or_404(pk)
    context = {"rollout": rollout, "rows": selectors.rollout_evidence(rollout=rollout)}
    return render_page_or_partial(
        request, "rollouts/rollout_report.html", "rollouts/_rollout_report_rows.html", context
    )


@requires(Perm.VIEW_FLEET)
@require_GET
def rollout_report_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    rollout = _rollout_plain_or_404(pk)
    rows = (row.as_csv() for row in selectors.rollout_evidence(rollout=rollout))
    return export_response(
        csv_lines(selectors.EVIDENCE_COLUMNS, rows),
        name=f"rollout-{rollout.pk}-{rollout.release.version}",
        extension="csv",
        content_type="text/csv",
    )


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def rollout_action(request: HttpRequest, pk: int) -> HttpResponse:
    rollout = _rollout_or_404(pk)
    form = ActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose start, pause, resume, abort or waive.")
        return redirect("rollouts:rollout_detail", pk=pk)
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
    try:
        if action == "start":
            rollout_start(rollout=rollout, actor=signed_in_user(request))
        elif action == "pause":
            rollout_pause(rollout=rollout, actor=signed_in_user(request), reason=reason)
        elif action == "resume":
            rollout_resume(rollout=rollout, actor=signed_in_user(request))
        elif action == "waive":
            rollout_schedule_waiver_request(
                rollout=rollout, actor=signed_in_user(request), reason=reason
            )
        else:
            rollout_abort(rollout=rollout, actor=signed_in_user(request), reason=reason)
    except RolloutError as exc:
        messages.error(request, str(exc))
    else:
        done = {
            "start": "Rollout started.",
            "pause": "Rollout paused.",
            "resume": "Rollout resumed.",
            "abort": "Rollout aborting.",
            "waive": "Waiver asked for: an Admin other than you must approve it in Approvals.",
        }
        messages.success(request, done[action])
    return redirect("rollouts:rollout_detail", pk=pk)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def rollout_target_action(request: HttpRequest, pk: int, target_pk: int) -> HttpResponse:
    rollout = _rollout_or_404(pk)
    target = selectors.rollout_target_get(rollout=rollout, pk=target_pk)
    if target is None:
        raise Http404(f"No target #{target_pk} in rollout #{pk}.")
    form = TargetActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose retry or skip.")
        return redirect("rollouts:rollout_detail", pk=pk)
    try:
        if form.cleaned_data["action"] == "retry":
            rollout_target_retry(target=target, actor=signed_in_user(request))
        else:
            rollout_target_skip(
                target=target, actor=signed_in_user(request), reason=form.cleaned_data["reason"]
            )
    except RolloutError as exc:
        messages.error(request, str(exc))
    return redirect("rollouts:rollout_detail", pk=pk)


@requires(Perm.MANAGE_SETTINGS)
@require_POST
def fleet_freeze(request: HttpRequest) -> HttpResponse:
    form = FreezeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose freeze or lift.")
        return redirect("rollouts:rollout_list")
    try:
        if form.cleaned_data["action"] == "freeze":
            fleet_freeze_set(actor=signed_in_user(request), reason=form.cleaned_data["reason"])
            messages.success(request, "The fleet is frozen: no rollout starts a new upgrade.")
        else:
            fleet_freeze_lift(actor=signed_in_user(request))
            messages.success(request, "The freeze is lifted.")
    except RolloutError as exc:
        messages.error(request, str(exc))
    return redirect("rollouts:rollout_list")


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def rollout_plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A planned rollout's plan: move an instance to another wave, change a wave's hold, or
    change a wave's share (the waves after it are re-planned)."""
    rollout = _rollout_or_404(pk)
    try:
        if "trial_pct" in request.POST:
            share = ShareForm(request.POST)
            if not share.is_valid():
                raise RolloutError("Give the shares as whole percents (0 to 100).")
            wave = rollout.waves.filter(position=share.cleaned_data["wave"]).first()
            if wave is None:
                raise RolloutError("This rollout has no such wave.")
            rollout_wave_share_set(
                wave=wave,
                trial_pct=share.cleaned_data["trial_pct"],
                production_pct=share.cleaned_data["production_pct"],
                actor=signed_in_user(request),
            )
        elif "target" in request.POST:
            move = MoveForm(request.POST)
            if not move.is_valid():
                raise RolloutError("Choose an instance and a wave.")
            target = selectors.rollout_target_get(rollout=rollout, pk=move.cleaned_data["target"])
            if target is None:
                raise RolloutError("That instance is not in this rollout.")
            rollout_target_move(
                target=target, position=move.cleaned_data["wave"], actor=signed_in_user(request)
            )
        else:
            hold = HoldForm(request.POST)
            if not hold.is_valid():
                raise RolloutError("Give the hold in whole seconds (0 or more).")
            wave = rollout.waves.filter(position=hold.cleaned_data["wave"]).first()
            if wave is None:
                raise RolloutError("This rollout has no such wave.")
            rollout_wave_hold_set(
                wave=wave,
                hold_seconds=hold.cleaned_data["hold_seconds"],
                actor=signed_in_user(request),
            )
    except RolloutError as exc:
        messages.error(request, str(exc))
    return redirect("rollouts:rollout_detail", pk=pk)
