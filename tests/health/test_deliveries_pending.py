"""The deliveries the redelivery sweep owes (a read: health.selectors.deliveries)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from health.choices import DeliveryAction, DeliveryState, IncidentCause, IncidentState
from health.models import AlertDelivery, Incident
from health.selectors.deliveries import REDELIVERY_MAX_ATTEMPTS, deliveries_pending
from tests.instances.factories import make_instance

pytestmark = pytest.mark.django_db


def _incident(slug: str, *, age: timedelta, state: str = IncidentState.OPEN) -> Incident:
    instance = make_instance(slug)
    return Incident.objects.create(
        instance=instance,
        cause=IncidentCause.DOWN,
        dedup_key=f"mi-admin/{slug}/down",
        state=state,
        summary=f"{slug} is down",
        opened_at=timezone.now() - age,
    )


def _failed(incident: Incident, action: str, attempts: int = 1) -> None:
    AlertDelivery.objects.create(
        incident=incident,
        channel="pagerduty",
        action=action,
        state=DeliveryState.FAILED,
        error="refused",
        attempts=attempts,
    )


def test_pending_deliveries_are_the_failed_and_never_sent_past_the_grace(settings):
    # given a channel configured, and incidents in every situation the sweep tells apart
    settings.SLACK_WEBHOOK_URL = "http://127.0.0.1:9/slack"
    old, recent = timedelta(minutes=10), timedelta(minutes=1)
    failed_trigger = _incident("failed-trigger", age=old)
    _failed(failed_trigger, DeliveryAction.TRIGGER)
    _failed(_incident("too-recent", age=recent), DeliveryAction.TRIGGER)
    _failed(_incident("gave-up", age=old), DeliveryAction.TRIGGER, REDELIVERY_MAX_ATTEMPTS)
    _failed(_incident("resolved-trigger", age=old, state=IncidentState.RESOLVED), "trigger")
    failed_resolve = _incident("failed-resolve", age=old, state=IncidentState.RESOLVED)
    _failed(failed_resolve, DeliveryAction.RESOLVE)
    never_sent = _incident("never-sent", age=old)
    # when the sweep asks what is owed
    pending = deliveries_pending(now=timezone.now())
    # then: failed trigger of an open incident, failed resolve, a trigger never sent
    assert pending == sorted(
        [
            (failed_trigger.pk, DeliveryAction.TRIGGER.value),
            (failed_resolve.pk, DeliveryAction.RESOLVE.value),
            (never_sent.pk, DeliveryAction.TRIGGER.value),
        ]
    )


def test_nothing_never_sent_is_owed_without_channels(no_alert_channels):
    # given an open incident with no delivery and no channel configured
    _incident("never-sent", age=timedelta(minutes=10))
    # when the sweep asks, then nothing is owed
    assert deliveries_pending(now=timezone.now()) == []
