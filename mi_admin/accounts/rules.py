"""How a view declares who may use it.

Every view of ours carries a rule: a :class:`Perm` (``@requires(Perm.X)``), ``@public`` (no
login: health endpoint, login page) or ``@any_role`` (any person with an MI Admin role). The
middleware enforces the rule and refuses a view that has none, and a system check lists
unruled URL patterns at start-up, so a new view cannot ship unguarded.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest

from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Perm

F = TypeVar("F", bound=Callable[..., Any])

RULE_ATTR = "mi_rule"


class Rule(Enum):
    PUBLIC = "public"
    ANY_ROLE = "any_role"
    # An API view (mi_admin.api.ApiView): it declares a rule per HTTP method, enforced by
    # the API's permission class once the caller is authenticated (bearer token or session),
    # from the same role -> permission table.
    API = "api"


def requires(perm: Perm) -> Callable[[F], F]:
    def mark(view: F) -> F:
        setattr(view, RULE_ATTR, perm)
        return view

    return mark


def any_role(view: F) -> F:
    setattr(view, RULE_ATTR, Rule.ANY_ROLE)
    return view


def public(view: F) -> F:
    setattr(view, RULE_ATTR, Rule.PUBLIC)
    return login_not_required(view)


def rule_of(view: Callable[..., Any]) -> Perm | Rule | None:
    """The rule of a view function or of a class-based view's ``as_view()`` result."""
    rule = getattr(view, RULE_ATTR, None)
    if rule is None and hasattr(view, "view_class"):
        rule = getattr(view.view_class, RULE_ATTR, None)
    return rule


# Third-party views that authenticate on their own terms (the OIDC handshake, allauth's
# break-glass forms, Django admin's staff check).
DELEGATED_MODULE_PREFIXES = ("mozilla_django_oidc.", "allauth.", "django.contrib.admin.")


def is_delegated(view: Callable[..., Any]) -> bool:
    # Django admin wraps its views (redirects included) and tags them with their site.
    if hasattr(view, "admin_site") or hasattr(view, "model_admin"):
        return True
    module = getattr(view, "__module__", "") or ""
    if hasattr(view, "view_class"):
        module = view.view_class.__module__
    return module.startswith(DELEGATED_MODULE_PREFIXES)


def signed_in_user(request: HttpRequest) -> User:
    """The person behind a request that passed a rule other than ``@public``."""
    user = request.user
    assert isinstance(user, User)  # the authorization middleware let a signed-in person in
    return user
