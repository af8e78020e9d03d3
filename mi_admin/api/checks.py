"""System check: every API view declares a rule for every method it answers (mi_admin.E010)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from mi_admin.accounts.checks import iter_patterns
from mi_admin.accounts.rules import RULE_ATTR, Rule

IMPLICIT = {"head", "options"}


def view_methods(view_class: Any) -> list[str]:
    """The HTTP methods a DRF view class answers (HEAD and OPTIONS follow GET)."""
    return [
        method.upper()
        for method in view_class.http_method_names
        if method not in IMPLICIT and hasattr(view_class, method)
    ]


@register("security")
def check_api_rules(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for route, _name, pattern in iter_patterns():
        view = pattern.callback
        if getattr(view, RULE_ATTR, None) is not Rule.API:
            continue
        view_class = view.cls  # type: ignore[attr-defined]  # DRF's as_view() sets it
        rules = getattr(view_class, "rules", {})
        for method in view_methods(view_class):
            if method not in rules:
                errors.append(
                    Error(
                        f"API URL {route!r} ({view_class.__qualname__}) answers {method} "
                        "without a rule.",
                        hint="Add the method to the view's `rules`.",
                        id="mi_admin.E010",
                    )
                )
    return errors
