"""Who is asking, from where: the request's facts that every audit event carries.

Set by :class:`~mi_admin.audit.middleware.RequestContextMiddleware` for web requests and by
Celery tasks (``request_context(...)``) so that events written by a worker name the person
and request that caused them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""
    # How the actor came in when it was not a browser session, e.g. "api sub=00u1 cid=mi-cli"
    # (an Okta bearer token): appended to the actor's label of every event.
    via: str = ""


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "mi_request_context",
    default=RequestContext(),  # noqa: B039 (frozen, never mutated)
)


def current() -> RequestContext:
    return _current.get()


@contextmanager
def request_context(**fields: str | None) -> Iterator[RequestContext]:
    token = _current.set(replace(_current.get(), **fields))  # type: ignore[arg-type]
    try:
        yield _current.get()
    finally:
        _current.reset(token)
