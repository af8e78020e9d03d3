"""``Idempotency-Key`` on the POSTs that start work.

The first request with a key (per caller) is recorded in the transaction that does the work,
and its answer stored with it; the same request again (same method, path and body) gets that answer
replayed, without doing anything. The key reused for another request is a 422; the same key
while the first request is still being answered is a 409. Uniqueness of (subject, key) is
the database's (``unique_idempotency_key``), so two racing requests cannot both start work.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from mi_admin.api.models import IdempotencyRecord, IdempotencyState
from mi_admin.api.problems import problem_response

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
# The header as every POST that starts work documents it in the schema.
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Repeat a request safely: the same key and body replay the first answer.",
)
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"
# Answers that did nothing and may change on a retry: not kept.
FREES_THE_KEY = {409, 429}


def _fingerprint(request: Request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    headers = dict(record.response_headers)
    content_type = headers.pop("Content-Type", None)
    response = Response(record.response_body, status=record.status, content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(request: Request, work: Callable[[], Response]) -> Response:
    """Run ``work`` once per (caller, Idempotency-Key); without the header, just run it."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return work()
    if len(key) > MAX_KEY_LENGTH:
        return problem_response(
            400, f"The {HEADER} is longer than {MAX_KEY_LENGTH} characters.", code="invalid"
        )
    subject = str(request.user.pk)
    fingerprint = _fingerprint(request)
    horizon = timezone.now() - timedelta(seconds=settings.API_IDEMPOTENCY_TTL_SECONDS)
    # One transaction for the record and the work: a crash leaves no key behind, and a
    # second request with the key waits on the first's row until it commits, then replays.
    with transaction.atomic():
        try:
            with transaction.atomic():
                # An expired key may be used afresh.
                IdempotencyRecord.objects.filter(
                    subject=subject, key=key, created_at__lt=horizon
                ).delete()
                record = IdempotencyRecord.objects.create(
                    subject=subject,
                    key=key,
                    method=request.method or "",
                    path=request.path[:512],
                    fingerprint=fingerprint,
                )
        except IntegrityError:
            return _answer_again(request, subject, key, fingerprint)
        response = work()
        if response.status_code >= 500 or response.status_code in FREES_THE_KEY:
            # Nothing was done (a conflict, a failure): the same key may be tried again.
            record.delete()
            return response
        headers = {name: response[name] for name in ("Location",) if response.has_header(name)}
        if response.content_type:
            headers["Content-Type"] = response.content_type
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            state=IdempotencyState.DONE,
            status=response.status_code,
            response_body=response.data,
            response_headers=headers,
        )
    return response


def _answer_again(request: Request, subject: str, key: str, fingerprint: str) -> Response:
    existing = IdempotencyRecord.objects.get(subject=subject, key=key)
    if existing.fingerprint != fingerprint:
        return problem_response(
            422,
            f"This {HEADER} was used for a different request; use a new key.",
            code="idempotency_key_reused",
        )
    if existing.state != IdempotencyState.DONE:
        return problem_response(
            409,
            f"A request with this {HEADER} is still being answered; retry later.",
            code="idempotency_in_progress",
            headers={"Retry-After": "1"},
        )
    logger.info("replayed %s %s for key %s", request.method, request.path, key)
    return _replay(existing)
