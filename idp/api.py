"""The few endpoints of Okta's management API that MI Admin uses, with Okta's shapes.

* ``GET /api/v1/users/{id|login}``: one user (``id`` is the same ``00u…`` as the ``sub``
  of the id_token; ``login`` is the email address, as in Okta).
* ``GET /api/v1/groups?q=<prefix>``: groups whose name starts with ``q``;
  ``GET /api/v1/groups/{groupId}``: one group.
* ``GET /api/v1/groups/{groupId}/users``: the members (``limit``/``after``, ``Link`` header).
* ``PUT`` / ``DELETE /api/v1/groups/{groupId}/users/{userId}``: add / remove a member
  (204, idempotent).

Every call needs ``Authorization: SSWS <api token>`` (401 ``E0000011`` otherwise). Members
are the IdP's Django groups, the same ones the ``groups`` claim of the next id_token lists.
Errors carry Okta's body (``errorCode``, ``errorSummary``, ``errorLink``, ``errorId``,
``errorCauses``). Tests arm failures through :mod:`idp.faults`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from idp import subject_for
from idp.faults import call_take_fault

ERRORS = {
    401: ("E0000011", "Invalid token provided"),
    404: ("E0000007", "Not found: Resource not found: {what}"),
    405: ("E0000022", "The endpoint does not support the provided HTTP method"),
    429: ("E0000047", "API call exceeded rate limit due to too many requests."),
    500: ("E0000009", "Internal Server Error"),
    503: ("E0000010", "Service is temporarily unavailable"),
}
DEFAULT_LIMIT = 1000

View = Callable[..., HttpResponse]


def group_id_for(name: str) -> str:
    """An Okta-looking group id (``00g`` + 17 characters), stable for a name."""
    return "00g" + hashlib.sha256(name.encode()).hexdigest()[:17]


def _stamp(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z") if value else None


def _base(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def okta_error(status: int, what: str = "") -> JsonResponse:
    code, summary = ERRORS.get(status, ("E0000009", "Internal Server Error"))
    response = JsonResponse(
        {
            "errorCode": code,
            "errorSummary": summary.format(what=what),
            "errorLink": code,
            "errorId": "oae" + secrets.token_hex(10),
            "errorCauses": [],
        },
        status=status,
    )
    if status == 429:
        response["X-Rate-Limit-Limit"] = "600"
        response["X-Rate-Limit-Remaining"] = "0"
        response["X-Rate-Limit-Reset"] = str(int(time.time()) + 1)
    return response


def _authorized(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = str(getattr(settings, "API_TOKEN", ""))
    return bool(
        expected
        and scheme == "SSWS"
        and hmac.compare_digest(token.strip().encode(), expected.encode())
    )


def okta_api(endpoint: str, methods: tuple[str, ...]) -> Callable[[View], View]:
    """Authorize, count the call, apply an armed fault, refuse other methods."""

    def decorate(view: View) -> View:
        @csrf_exempt
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not _authorized(request):
                return okta_error(401)
            if request.method not in methods:
                return okta_error(405)
            name = endpoint if len(methods) == 1 else f"{endpoint}.{request.method.lower()}"
            status = call_take_fault(Path(getattr(settings, "DATA_DIR", ".")), name)
            if status is not None:
                return okta_error(status)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def user_json(user: User, base: str) -> dict[str, Any]:
    uid = subject_for(user.username)
    return {
        "id": uid,
        "status": "ACTIVE" if user.is_active else "SUSPENDED",
        "created": _stamp(user.date_joined),
        "activated": _stamp(user.date_joined),
        "statusChanged": None,
        "lastLogin": _stamp(user.last_login),
        "lastUpdated": _stamp(user.date_joined),
        "passwordChanged": None,
        "type": {"id": "oty00000000000000000"},
        "profile": {
            "firstName": user.first_name,
            "lastName": user.last_name,
            "mobilePhone": None,
            "secondEmail": None,
            "login": user.email or user.username,
            "email": user.email,
        },
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": f"{base}/api/v1/users/{uid}"}},
    }


def group_json(group: Group, base: str) -> dict[str, Any]:
    gid = group_id_for(group.name)
    return {
        "id": gid,
        "created": None,
        "lastUpdated": None,
        "lastMembershipUpdated": None,
        "objectClass": ["okta:user_group"],
        "type": "OKTA_GROUP",
        "profile": {"name": group.name, "description": ""},
        "_links": {
            "self": {"href": f"{base}/api/v1/groups/{gid}"},
            "users": {"href": f"{base}/api/v1/groups/{gid}/users"},
        },
    }


def _find_user(key: str) -> User | None:
    """By id (``00u…``), login/email, or the short name, as Okta's ``/users/{id}``."""
    for user in User.objects.filter(Q(username=key) | Q(email__iexact=key)):
        return user
    for user in User.objects.all():
        if subject_for(user.username) == key:
            return user
    return None


def _find_group(group_id: str) -> Group | None:
    for group in Group.objects.all():
        if group_id_for(group.name) == group_id:
            return group
    return None


@okta_api("users.get", ("GET",))
def user_get(request: HttpRequest, key: str) -> HttpResponse:
    user = _find_user(key)
    if user is None:
        return okta_error(404, f"{key} (User)")
    return JsonResponse(user_json(user, _base(request)))


@okta_api("groups.list", ("GET",))
def groups_list(request: HttpRequest) -> HttpResponse:
    groups = Group.objects.order_by("name")
    prefix = request.GET.get("q", "")
    if prefix:
        groups = groups.filter(name__istartswith=prefix)
    base = _base(request)
    return JsonResponse([group_json(g, base) for g in groups], safe=False)


@okta_api("groups.get", ("GET",))
def group_get(request: HttpRequest, group_id: str) -> HttpResponse:
    group = _find_group(group_id)
    if group is None:
        return okta_error(404, f"{group_id} (UserGroup)")
    return JsonResponse(group_json(group, _base(request)))


@okta_api("groups.users.list", ("GET",))
def group_users(request: HttpRequest, group_id: str) -> HttpResponse:
    group = _find_group(group_id)
    if group is None:
        return okta_error(404, f"{group_id} (UserGroup)")
    try:
        limit = max(1, min(DEFAULT_LIMIT, int(request.GET.get("limit", DEFAULT_LIMIT))))
    except ValueError:
        limit = DEFAULT_LIMIT
    members = sorted(User.objects.filter(groups=group), key=lambda u: subject_for(u.username))
    after = request.GET.get("after", "")
    if after:
        members = [u for u in members if subject_for(u.username) > after]
    page, more = members[:limit], len(members) > limit
    base = _base(request)
    response = JsonResponse([user_json(u, base) for u in page], safe=False)
    url = f"{base}/api/v1/groups/{group_id}/users?limit={limit}"
    links = [f'<{url}>; rel="self"']
    if more:
        links.append(f'<{url}&after={subject_for(page[-1].username)}>; rel="next"')
    response["Link"] = ", ".join(links)
    return response


@okta_api("groups.users", ("PUT", "DELETE"))
def group_user(request: HttpRequest, group_id: str, user_id: str) -> HttpResponse:
    group = _find_group(group_id)
    if group is None:
        return okta_error(404, f"{group_id} (UserGroup)")
    user = _find_user(user_id)
    if user is None:
        return okta_error(404, f"{user_id} (User)")
    with transaction.atomic():
        if request.method == "PUT":
            user.groups.add(group)
        else:
            user.groups.remove(group)
    return HttpResponse(status=204)
