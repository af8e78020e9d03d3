"""System check: every URL pattern of ours names an authorization rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.urls import URLPattern, URLResolver, get_resolver

from mi_admin.accounts.rules import is_delegated, rule_of


def iter_patterns(
    patterns: list[Any] | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    """Every URL pattern as (full route, namespaced name or "", pattern), depth first."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from iter_patterns(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield prefix + str(entry.pattern), name, entry


@register("security")
def check_every_view_has_a_rule(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    middleware = "mi_admin.accounts.middleware.AuthorizationMiddleware"
    if middleware not in settings.MIDDLEWARE:
        errors.append(Error(f"{middleware} is not installed.", id="mi_admin.E001"))
    for route, _name, pattern in iter_patterns():
        view = pattern.callback
        if is_delegated(view) or rule_of(view) is not None:
            continue
        errors.append(
            Error(
                f"URL {route!r} ({view.__module__}.{view.__qualname__}) has no rule.",
                hint="Mark the view with @public, @any_role or @requires(Perm.X).",
                id="mi_admin.E002",
            )
        )
    return errors
