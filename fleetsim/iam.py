"""IAM policies on simulated VMs: validation, etags and policy versions as GCP applies them.

Conditional bindings need policy version 3. A caller asking for an older version of a
policy that has conditions gets version 1 with the conditions folded into role names
(``roles/x_withcond_<hash>``), as IAM documents. A stale etag fails with 409 ABORTED.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from fleetsim.errors import ApiError
from fleetsim.state import IamPolicy, fingerprint

MEMBER_PREFIXES = (
    "user:",
    "group:",
    "serviceAccount:",
    "domain:",
    "principal:",
    "principalSet:",
    "deleted:",
)
SPECIAL_MEMBERS = ("allUsers", "allAuthenticatedUsers")
ROLE_RE = re.compile(r"^(roles/|projects/[^/]+/roles/|organizations/[^/]+/roles/)[\w.]+$")
TIMESTAMP_RE = re.compile(r'timestamp\(\s*"([^"]*)"\s*\)')


def _invalid(message: str) -> ApiError:
    return ApiError(400, f"Invalid IAM policy: {message}", "badRequest")


def _check_condition(condition: dict[str, Any]) -> dict[str, str]:
    expression = str(condition.get("expression", "")).strip()
    title = str(condition.get("title", "")).strip()
    if not expression:
        raise _invalid("a condition needs an expression.")
    if not title:
        raise _invalid("a condition needs a title.")
    for literal in TIMESTAMP_RE.findall(expression):
        if not re.search(r"(Z|[+-]\d\d:\d\d)$", literal):
            raise _invalid(f"timestamp '{literal}' needs a time zone (RFC 3339).")
        try:
            datetime.fromisoformat(literal.replace("Z", "+00:00"))
        except ValueError as exc:
            raise _invalid(f"timestamp '{literal}' is not RFC 3339.") from exc
    out = {"title": title, "expression": expression}
    if condition.get("description"):
        out["description"] = str(condition["description"])
    return out


def normalize_bindings(raw: list[dict[str, Any]], version: int) -> list[dict[str, Any]]:
    """Validated bindings, merged per (role, condition), empty ones dropped."""
    merged: dict[str, dict[str, Any]] = {}
    for binding in raw:
        role = str(binding.get("role", ""))
        if not ROLE_RE.match(role):
            raise _invalid(f"role '{role}' is not a valid role name.")
        members = [str(m) for m in binding.get("members", [])]
        for member in members:
            if member not in SPECIAL_MEMBERS and not member.startswith(MEMBER_PREFIXES):
                raise _invalid(f"member '{member}' is not of the form 'type:id'.")
        condition = binding.get("condition")
        if condition:
            if version < 3:
                raise _invalid("conditional role bindings require policy version 3.")
            condition = _check_condition(condition)
        key = fingerprint([role, condition])
        entry = merged.setdefault(key, {"role": role, "members": []})
        if condition:
            entry["condition"] = condition
        entry["members"] = sorted(set(entry["members"]) | set(members))
    return [b for b in merged.values() if b["members"]]


def set_policy(current: IamPolicy, body: dict[str, Any]) -> IamPolicy:
    policy = body.get("policy") or {}
    etag = str(policy.get("etag", "") or "")
    if etag and etag != current.etag:
        raise ApiError(
            409,
            "There were concurrent policy changes. Please retry the whole read-modify-write "
            "with exponential backoff.",
            "aborted",
        )
    version = int(policy.get("version", 1) or 1)
    if version not in (1, 3):
        raise _invalid(f"version {version} is not supported.")
    bindings = normalize_bindings(list(policy.get("bindings", [])), version)
    return IamPolicy(
        version=version,
        bindings=bindings,
        etag=fingerprint([current.etag, bindings, version]),
    )


def policy_json(policy: IamPolicy, requested_version: int) -> dict[str, Any]:
    bindings = policy.bindings
    version = policy.version
    if requested_version < 3 and any("condition" in b for b in bindings):
        version = 1
        bindings = [_fold_condition(b) for b in bindings]
    body: dict[str, Any] = {"version": version, "etag": policy.etag}
    if bindings:
        body["bindings"] = bindings
    return body


def _fold_condition(binding: dict[str, Any]) -> dict[str, Any]:
    condition = binding.get("condition")
    if not condition:
        return binding
    digest = hashlib.sha256(str(sorted(condition.items())).encode()).hexdigest()[:20]
    return {"role": f"{binding['role']}_withcond_{digest}", "members": binding["members"]}
