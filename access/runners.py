"""The operations that add and remove what a grant gives (kinds ``grant`` and ``revoke``),
registered with :func:`instances.runners.register_runner`: IAM bindings on the VM, or, for
a site-admin level, membership of an Okta group through Okta's Groups API.

Both run step by step through ``step_run`` (a resumed operation skips finished steps) and
end with a read of the VM's policy, so what the grant records is what GCP holds. The
bindings carry the condition ``request.time < timestamp("<expiry>")`` titled
``mi-admin-grant-<id>``: GCP ends the access at expiry on its own, and the title lets one
grant's binding be removed without touching another's.

Okta memberships have no expiry: the grant's expiry task and the minute sweep end them, and
the removal is retried (Okta's transient errors too, as :class:`OperationTransient`) until
a read of the group's members shows the person gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from access.models import AccessGrant
from access.services import (
    access_grant_activation_begin,
    access_grant_activation_confirm,
    access_grant_extension_confirm,
    access_grant_removal_verified,
)
from instances import gcp
from instances.gcp.models import IamPolicy
from instances.models import Operation
from instances.services.operations import OperationTransient, StepFailed, step_run
from mi_admin.accounts.okta_client import (
    OktaClient,
    OktaNotFound,
    OktaPermanentError,
    OktaTransientError,
    okta_client,
)
from mi_admin.ui.times import when_text


def _grant(operation: Operation) -> AccessGrant:
    return AccessGrant.objects.select_related("instance", "level").get(
        pk=int(operation.params["grant"])
    )


def _where(grant: AccessGrant) -> dict[str, str]:
    instance = grant.instance
    return {"project": instance.gcp_project, "zone": instance.gcp_zone, "name": instance.vm_name}


def _held_roles(policy: IamPolicy, grant: AccessGrant) -> list[str]:
    """The grant's roles that the policy binds to its member under its condition."""
    return sorted(
        {
            binding.role
            for binding in policy.bindings
            if grant.member in binding.members
            and binding.condition is not None
            and binding.condition.title == grant.condition_title
        }
    )


def _remove_and_verify(operation: Operation, grant: AccessGrant, *, label: str) -> None:
    """Remove, then read back; one step, because the removal is idempotent (no write when
    nothing is bound) and a retry must remove again whatever appeared in between."""
    roles = list(grant.level.iam_roles)

    def remove() -> tuple[str, dict[str, Any]]:
        for role in roles:
            gcp.vm_iam_binding_remove(
                **_where(grant),
                role=role,
                member=grant.member,
                condition_title=grant.condition_title,
            )
        held = _held_roles(gcp.vm_iam_policy_get(**_where(grant)), grant)
        if held:
            # Retried with backoff (the operation's transient-error path) until a read of
            # the policy shows the binding gone.
            raise gcp.GcpTransientError(f"still bound after removal: {', '.join(held)}")
        return f"removed {', '.join(roles)} from {grant.member}; read back: none left", {}

    step_run(operation=operation, name=f"{label}: remove the binding and read back", work=remove)


@contextmanager
def _okta_errors() -> Iterator[None]:
    """Okta's transient errors retry the operation with backoff; permanent ones fail the
    step with Okta's message."""
    try:
        yield
    except OktaTransientError as exc:
        raise OperationTransient(str(exc), service="Okta") from exc
    except OktaPermanentError as exc:
        raise StepFailed(str(exc)) from exc


def _okta_ids(grant: AccessGrant) -> tuple[OktaClient, str, str]:
    """The client, the person's Okta user id and the group's id."""
    client = okta_client()
    return client, client.user_get(grant.member).id, client.group_find(grant.okta_group).id


def _okta_remove_and_verify(operation: Operation, grant: AccessGrant, *, label: str) -> None:
    """Remove the membership, then read the members back (one step, as for IAM)."""

    def remove() -> tuple[str, dict[str, Any]]:
        with _okta_errors():
            try:
                client, user_id, group_id = _okta_ids(grant)
            except OktaNotFound as exc:
                # No such user or group at Okta: nobody can be a member of it.
                return f"nothing to remove: {exc}", {}
            client.group_member_remove(group_id, user_id)
            still = user_id in client.group_member_ids(group_id)
        if still:
            # Retried with backoff until a read of the members shows the person gone.
            raise OperationTransient(
                f"{grant.member} still in {grant.okta_group} after removal", service="Okta"
            )
        return f"removed {grant.member} from Okta group {grant.okta_group}; read back: gone", {}

    step_run(
        operation=operation,
        name=f"{label}: remove the Okta group membership and read back",
        work=remove,
    )


def _remove(operation: Operation, grant: AccessGrant, *, label: str) -> None:
    if grant.okta_group:
        _okta_remove_and_verify(operation, grant, label=label)
    else:
        _remove_and_verify(operation, grant, label=label)


def _okta_add_and_verify(operation: Operation, grant: AccessGrant, expires: str) -> None:
    """Add the person to the group (idempotent at Okta), then read the members back."""

    def add() -> tuple[str, dict[str, Any]]:
        with _okta_errors():
            client, user_id, group_id = _okta_ids(grant)
            client.group_member_add(group_id, user_id)
        return (
            f"added {grant.member} to Okta group {grant.okta_group} until {when_text(expires)}",
            {"user": user_id, "group": group_id},
        )

    ids = step_run(operation=operation, name="Add the Okta group membership", work=add)
    _okta_verify(operation, grant, user_id=ids["user"], group_id=ids["group"])


def _okta_verify(operation: Operation, grant: AccessGrant, *, user_id: str, group_id: str) -> None:
    def verify() -> tuple[str, dict[str, Any]]:
        with _okta_errors():
            members = okta_client().group_member_ids(group_id)
        if user_id not in members:
            raise StepFailed(f"read back: {grant.member} is not in {grant.okta_group}")
        return f"read back: {grant.member} is in {grant.okta_group}", {}

    step_run(operation=operation, name="Read the Okta group members back", work=verify)


def _run_okta_extend(operation: Operation, grant: AccessGrant) -> dict[str, Any]:
    """Okta memberships carry no expiry: check the membership is still there, then record
    the later expiry (the expiry task is queued again for it)."""
    new_expiry = datetime.fromisoformat(operation.params["extend_to"])

    def ids() -> tuple[str, dict[str, Any]]:
        with _okta_errors():
            _, user_id, group_id = _okta_ids(grant)
        return "found the user and the group", {"user": user_id, "group": group_id}

    found = step_run(operation=operation, name="Find the Okta user and group", work=ids)
    _okta_verify(operation, grant, user_id=found["user"], group_id=found["group"])

    def confirm() -> tuple[str, dict[str, Any]]:
        kept = access_grant_extension_confirm(grant_pk=grant.pk, expires_at=new_expiry)
        return ("grant extended" if kept else "grant ended meanwhile"), {"kept": kept}

    confirmed = step_run(operation=operation, name="Record the new expiry", work=confirm)
    if confirmed["kept"]:
        return {"extended": True, "expires_at": new_expiry.isoformat()}
    _remove(operation, grant, label="Ended meanwhile")
    access_grant_removal_verified(grant_pk=grant.pk, again=True)
    return {"extended": False, "removed": True}


def _run_extend(operation: Operation, grant: AccessGrant) -> dict[str, Any]:
    """Replace the condition of the grant's binding(s) with the later expiry: one
    read-modify-write per role (the old binding out, the new one in, one setIamPolicy, so
    access never lapses in between), read back, then record the new expiry."""
    new_expiry = datetime.fromisoformat(operation.params["extend_to"])
    condition = gcp.expiry_condition(new_expiry, title=grant.condition_title)
    roles = list(grant.level.iam_roles)
    where = _where(grant)

    def write(role: str) -> None:
        current = gcp.vm_iam_policy_get(**where)
        without = gcp.policy_without_binding(
            current, role=role, member=grant.member, condition_title=grant.condition_title
        )
        wanted = gcp.policy_with_binding(
            without, role=role, member=grant.member, condition=condition
        )
        if wanted != current:
            gcp.vm_iam_policy_set(**where, policy=wanted)

    def replace() -> tuple[str, dict[str, Any]]:
        for role in roles:
            try:
                write(role)
            except gcp.GcpConflict:
                write(role)  # the policy changed between our read and write: read again, once
        return f"condition now {condition.expression}", {}

    step_run(operation=operation, name="Replace the binding's expiry", work=replace)

    def verify() -> tuple[str, dict[str, Any]]:
        policy = gcp.vm_iam_policy_get(**where)
        conditions = {
            b.condition.expression
            for b in policy.bindings
            if grant.member in b.members
            and b.condition is not None
            and b.condition.title == grant.condition_title
        }
        if conditions != {condition.expression}:
            raise StepFailed(f"read back: conditions {sorted(conditions)}")
        return "read back: one binding, new expiry", {}

    step_run(operation=operation, name="Read the policy back", work=verify)

    def confirm() -> tuple[str, dict[str, Any]]:
        kept = access_grant_extension_confirm(grant_pk=grant.pk, expires_at=new_expiry)
        return ("grant extended" if kept else "grant ended meanwhile"), {"kept": kept}

    confirmed = step_run(operation=operation, name="Record the new expiry", work=confirm)
    if confirmed["kept"]:
        return {"extended": True, "expires_at": new_expiry.isoformat()}
    _remove_and_verify(operation, grant, label="Ended meanwhile")
    access_grant_removal_verified(grant_pk=grant.pk, again=True)
    return {"extended": False, "removed": True}


def run_grant(operation: Operation) -> dict[str, Any]:
    """Activate a grant: start its clock, add the binding(s) with the expiry condition,
    read them back, mark the grant active; if the grant ended meanwhile, remove them.
    With ``extend_to`` in its params: replace the active binding's expiry instead."""
    grant = _grant(operation)
    if "extend_to" in operation.params:
        if grant.okta_group:
            return _run_okta_extend(operation, grant)
        return _run_extend(operation, grant)

    def begin() -> tuple[str, dict[str, Any]]:
        outcome = access_grant_activation_begin(grant_pk=grant.pk)
        if not outcome["proceed"]:
            return f"grant is {outcome['state']}: nothing added", outcome
        return f"clock started; expires {when_text(outcome['expires_at'])}", outcome

    started = step_run(operation=operation, name="Check the grant and start its clock", work=begin)
    if not started["proceed"]:
        return {"activated": False, "state": started["state"]}
    if grant.okta_group:
        _okta_add_and_verify(operation, grant, started["expires_at"])
    else:
        _iam_add_and_verify(operation, grant, started["expires_at"])

    def confirm() -> tuple[str, dict[str, Any]]:
        active = access_grant_activation_confirm(grant_pk=grant.pk)
        return ("grant active" if active else "grant ended meanwhile"), {"active": active}

    confirmed = step_run(operation=operation, name="Mark the grant active", work=confirm)
    if confirmed["active"]:
        return {"activated": True, "expires_at": started["expires_at"]}
    _remove(operation, grant, label="Ended meanwhile")
    access_grant_removal_verified(grant_pk=grant.pk, again=True)
    return {"activated": False, "removed": True}


def _iam_add_and_verify(operation: Operation, grant: AccessGrant, expires: str) -> None:
    expires_at = datetime.fromisoformat(expires)
    roles = list(grant.level.iam_roles)

    def add() -> tuple[str, dict[str, Any]]:
        for role in roles:
            gcp.vm_iam_binding_add(
                **_where(grant),
                role=role,
                member=grant.member,
                expires_at=expires_at,
                title=grant.condition_title,
            )
        return f"bound {grant.member} to {', '.join(roles)} until {when_text(expires)}", {}

    step_run(operation=operation, name="Add the IAM binding", work=add)

    def verify() -> tuple[str, dict[str, Any]]:
        held = _held_roles(gcp.vm_iam_policy_get(**_where(grant)), grant)
        missing = sorted(set(roles) - set(held))
        if missing:
            raise StepFailed(f"read back: {', '.join(missing)} not bound to {grant.member}")
        return f"read back: {', '.join(held)} bound", {"roles": held}

    step_run(operation=operation, name="Read the policy back", work=verify)


def run_revoke(operation: Operation) -> dict[str, Any]:
    """End a grant's binding(s) on the VM (or its Okta group membership) and record when a
    read showed them gone."""
    grant = _grant(operation)
    _remove(operation, grant, label="Membership" if grant.okta_group else "Binding")
    access_grant_removal_verified(grant_pk=grant.pk)
    return {"removed": True}
