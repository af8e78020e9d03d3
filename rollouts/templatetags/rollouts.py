"""Template helpers of the rollout pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    """``{{ projection|get_item:wave.pk }}``: a dict entry by a variable key."""
    return mapping.get(key)
