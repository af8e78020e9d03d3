"""``{% load extensions %}``: render what apps registered into a shared page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from mi_admin.ui.extensions import LoadedBlock

register = template.Library()


@register.filter
def item(mapping: dict[Any, Any] | None, key: Any) -> Any:
    """``rows|item:instance.pk`` → ``rows[instance.pk]`` (None when absent)."""
    if not mapping:
        return None
    return mapping.get(key)


@register.simple_tag(takes_context=True)
def render_block(context: template.Context, block: LoadedBlock) -> SafeString:
    """A registered panel or widget: its template with its own context added to the page's."""
    assert context.template is not None  # only ever called while a template renders
    block_template = context.template.engine.get_template(block.template)
    with context.push(**block.context):
        return block_template.render(context)
