"""``{{ grant.duration|span }}``: a duration as people say it (a builtin template library,
so no ``{% load %}``)."""

from __future__ import annotations

from datetime import timedelta

from django import template

from mi_admin.ui.spans import span_text

register = template.Library()


@register.filter
def span(value: timedelta | None) -> str:
    return span_text(value)
