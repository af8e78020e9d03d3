"""Fields other apps add to a lower app's API resource, without that app importing them
(as mi_admin.ui.extensions does for pages): the health app adds ``health`` to instances.

``@api_fields("instance", "health")`` registers ``load(ids) -> {id: value}``: one call per
page of objects (a fixed number of queries), the value JSON-ready. The serializer of the
resource adds every registered field (typed as a free-form object in the schema).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Loader = Callable[[list[int]], dict[int, Any]]


@dataclass(frozen=True)
class ApiField:
    name: str
    load: Loader
    description: str


_FIELDS: dict[str, dict[str, ApiField]] = {}


def api_fields(resource: str, name: str, *, description: str = "") -> Callable[[Loader], Loader]:
    def register(load: Loader) -> Loader:
        _FIELDS.setdefault(resource, {})[name] = ApiField(name, load, description)
        return load

    return register


def fields_for(resource: str) -> Iterable[ApiField]:
    return list(_FIELDS.get(resource, {}).values())


def load_fields(resource: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Every registered field of these objects: {id: {field: value}}."""
    loaded: dict[int, dict[str, Any]] = {pk: {} for pk in ids}
    for field in fields_for(resource):
        values = field.load(ids) if ids else {}
        for pk in ids:
            loaded[pk][field.name] = values.get(pk)
    return loaded
