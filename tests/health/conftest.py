"""Fixtures of the health tests: instances served by the fleet simulator, alert channels
pointed at the local HTTP receiver, and sweeps that run their on-commit work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from health.models import InstanceHealth
from health.services.sweep import SweepReport, sweep_run
from instances.models import Instance
from mi_admin.celery import app as celery_app
from tests.instances.factories import make_instance

PD_KEY = "pd-routing-key-health-tests"
OG_KEY = "og-api-key-health-tests"
SLACK_PATH = "/services/T000/B000/health-tests"


@pytest.fixture
def health_settings(settings):
    """Quick thresholds: probes time out after 2 s, down after 3 failures, up after 2."""
    settings.HEALTH_PROBE_TIMEOUT = 2.0
    settings.HEALTH_PROBE_CONCURRENCY = 20
    settings.HEALTH_DOWN_AFTER = 3
    settings.HEALTH_UP_AFTER = 2
    settings.HEALTH_SLOW_MS = 2000
    settings.HEALTH_FLAP_FLIPS = 3
    settings.HEALTH_STALE_SECONDS = 300
    settings.SITE_URL = "https://mi-admin.example.com"
    return settings


@pytest.fixture
def alert_channels(settings, http_receiver):
    """PagerDuty, Opsgenie and Slack all pointed at one local recording receiver."""
    settings.PAGERDUTY_ROUTING_KEY = PD_KEY
    settings.PAGERDUTY_EVENTS_URL = f"{http_receiver.url}/v2/enqueue"
    settings.OPSGENIE_API_KEY = OG_KEY
    settings.OPSGENIE_API_URL = http_receiver.url
    settings.SLACK_WEBHOOK_URL = f"{http_receiver.url}{SLACK_PATH}"
    settings.ALERT_HTTP_TIMEOUT = 2.0
    return http_receiver


@pytest.fixture
def no_alert_channels(settings):
    settings.PAGERDUTY_ROUTING_KEY = ""
    settings.OPSGENIE_API_KEY = ""
    settings.SLACK_WEBHOOK_URL = ""


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks queued on commit run at once in the test process (Celery's own eager mode):
    the real task code, without a broker round trip."""
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


@pytest.fixture
def sim_instance(fleetsim) -> Callable[..., Instance]:
    """An instance row whose URL is a simulated instance's frontend."""

    def build(
        slug: str,
        *,
        version: str = "5.9.0",
        health_mode: str = "ok",
        latency: float = 0.0,
        **fields: Any,
    ) -> Instance:
        fleetsim.upsert_instances(
            [
                {
                    "slug": slug,
                    "version": version,
                    "health_mode": health_mode,
                    "health_latency": latency,
                }
            ]
        )
        return make_instance(slug, url=fleetsim.instance_url(slug), **fields)

    return build


@pytest.fixture
def run_sweep(health_settings, django_capture_on_commit_callbacks) -> Callable[[], SweepReport]:
    """One sweep, with its on-commit callbacks (alert deliveries) executed."""

    def run() -> SweepReport:
        with django_capture_on_commit_callbacks(execute=True):
            return sweep_run()

    return run


def health_of(instance: Instance) -> InstanceHealth:
    return InstanceHealth.objects.get(instance=instance)
