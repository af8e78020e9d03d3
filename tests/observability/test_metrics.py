"""``/metrics``: refused to anyone without the token or an allowed address, and, for a small
fleet built here, the domain series carry the right values (parsed with prometheus_client's
own parser, as Prometheus would read them)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from access.choices import GrantState
from health.choices import DeliveryAction, DeliveryState, HealthState, IncidentCause
from health.models import AlertDelivery, Incident, InstanceHealth
from instances.choices import LifecycleState, OperationKind, OperationState
from mi_admin.liveness import metrics as liveness_metrics
from mi_admin.liveness.models import PeriodicTaskRun
from mi_admin.metrics.registry import register_periodic_task_last_success
from tests.access.factories import make_access_grant
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance, make_operation, make_release
from tests.mi_requests.factories import make_request

pytestmark = pytest.mark.django_db

TOKEN = "scrape-" + uuid.uuid4().hex


def scrape() -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, keyed by (sample name, sorted labels)."""
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def test_anonymous_and_wrong_tokens_are_refused(token, client_for):
    # no token, a wrong one, another scheme, and a signed-in admin's session: all refused
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics")["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client_for("admin").get("/metrics").status_code == 401
    # the token opens it
    ok = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert ok.status_code == 200
    assert b"mi_instances_health" in ok.content


def test_nothing_configured_refuses_everyone(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert Client().get("/metrics").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_the_allowlist_admits_by_client_address(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 403
    # a client cannot claim an allowed address through X-Forwarded-For without a trusted proxy
    settings.TRUSTED_PROXY_COUNT = 0
    spoofed = Client(REMOTE_ADDR="192.0.2.7").get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3")
    assert spoofed.status_code == 403


def _healthy(instance, state: str) -> None:
    InstanceHealth.objects.create(instance=instance, state=state, last_probe_at=timezone.now())


def test_domain_series_for_a_small_fleet(token):
    now = timezone.now()
    # given releases: 5.0.0 long ago, 5.1.0 200 days ago, 5.2.0 today
    make_release("5.0.0", released_at=now - timedelta(days=400))
    make_release("5.1.0", released_at=now - timedelta(days=200))
    make_release("5.2.0", released_at=now - timedelta(minutes=5))
    # and a fleet: current and healthy, due and degraded, overdue and down (x2), one suspended
    current = make_instance("acme-prod", observed_version="5.2.0")
    due = make_instance("globex-prod", observed_version="5.1.0")
    overdue = make_instance("initech-prod", observed_version="5.0.0")
    overdue2 = make_instance("hooli-prod", observed_version="5.0.0")
    suspended = make_instance("umbrella-prod", state=LifecycleState.SUSPENDED)
    _healthy(current, HealthState.HEALTHY)
    _healthy(due, HealthState.DEGRADED)
    _healthy(overdue, HealthState.DOWN)
    _healthy(overdue2, HealthState.DOWN)
    _healthy(suspended, HealthState.SUSPENDED)
    # operations: two upgrades succeeded (90 s and 400 s), one failed (3 s), a sync running
    make_operation(
        current,
        kind=OperationKind.UPGRADE,
        state=OperationState.SUCCEEDED,
        started_at=now - timedelta(seconds=90),
        finished_at=now,
    )
    make_operation(
        due,
        kind=OperationKind.UPGRADE,
        state=OperationState.SUCCEEDED,
        started_at=now - timedelta(seconds=400),
        finished_at=now,
    )
    make_operation(
        overdue,
        kind=OperationKind.UPGRADE,
        state=OperationState.FAILED,
        started_at=now - timedelta(seconds=3),
        finished_at=now,
    )
    make_operation(current, kind=OperationKind.SYNC, state=OperationState.RUNNING)
    # an active grant and a pending one
    devops = make_persona("devops")
    active = make_access_grant(devops, current)
    active.state = GrantState.ACTIVE
    active.activated_at = now
    active.expires_at = now + timedelta(minutes=30)
    active.save()
    make_access_grant(devops, due)
    # requests: one fresh (on track), one 20 h old (at risk), one 25 h old (breached), one done
    make_request(devops, current)
    make_request(
        devops,
        due,
        submitted_at=now - timedelta(hours=20),
        response_due_at=now + timedelta(hours=4),
    )
    make_request(
        devops,
        overdue,
        submitted_at=now - timedelta(hours=25),
        response_due_at=now - timedelta(hours=1),
    )
    make_request(devops, overdue2, state="withdrawn", closed_at=now)
    # an incident whose page failed on one channel and went out on another
    incident = Incident.objects.create(
        instance=overdue,
        cause=IncidentCause.DOWN,
        opened_at=now,
        summary="down",
        dedup_key="obs-down",
    )
    AlertDelivery.objects.create(
        incident=incident,
        channel="pagerduty",
        action=DeliveryAction.TRIGGER,
        state=DeliveryState.FAILED,
    )
    AlertDelivery.objects.create(
        incident=incident,
        channel="slack",
        action=DeliveryAction.TRIGGER,
        state=DeliveryState.SENT,
        sent_at=now,
    )

    # when Prometheus scrapes
    samples = scrape()

    # then the domain series say so
    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("mi_instances_health", state="healthy") == 1
    assert value("mi_instances_health", state="degraded") == 1
    assert value("mi_instances_health", state="down") == 2
    assert value("mi_instances_health", state="suspended") == 1
    assert value("mi_instances_health", state="unknown") == 0
    assert value("mi_instances", state="active") == 4
    assert value("mi_instances", state="suspended") == 1
    assert value("mi_instances_version_sla", status="current") == 1
    assert value("mi_instances_version_sla", status="due") == 1
    assert value("mi_instances_version_sla", status="overdue") == 2
    assert value("mi_operations_finished_total", kind="upgrade", outcome="succeeded") == 2
    assert value("mi_operations_finished_total", kind="upgrade", outcome="failed") == 1
    assert value("mi_operations_in_flight", kind="sync", state="running") == 1
    # the durations: 90 s and 400 s; 90 s is within 120 but not 60, 400 s only within 600
    duration = "mi_operation_duration_seconds"
    ok = {"kind": "upgrade", "outcome": "succeeded"}
    assert value(f"{duration}_bucket", le="60.0", **ok) == 0
    assert value(f"{duration}_bucket", le="120.0", **ok) == 1
    assert value(f"{duration}_bucket", le="300.0", **ok) == 1
    assert value(f"{duration}_bucket", le="600.0", **ok) == 2
    assert value(f"{duration}_bucket", le="+Inf", **ok) == 2
    assert value(f"{duration}_count", **ok) == 2
    assert value(f"{duration}_sum", **ok) == pytest.approx(490, abs=0.01)
    failed = {"kind": "upgrade", "outcome": "failed"}
    assert value(f"{duration}_bucket", le="5.0", **failed) == 1
    assert value(f"{duration}_bucket", le="1.0", **failed) == 0
    assert value("mi_access_grants_active", kind="gcp_iam") == 1
    assert value("mi_access_grants_active", kind="okta_group") == 0
    assert value("mi_requests_open", sla_status="on_track") == 1
    assert value("mi_requests_open", sla_status="at_risk") == 1
    assert value("mi_requests_open", sla_status="breached") == 1
    assert value("mi_alert_deliveries_failed", channel="pagerduty") == 1
    assert ("mi_alert_deliveries_failed", (("channel", "slack"),)) not in samples
    # and no collector failed on the way
    failures = {k: v for k, v in samples.items() if k[0] == "mi_metrics_collector_errors"}
    assert failures
    assert not any(failures.values())


def test_request_series_count_by_route_and_status(token, client_for):
    key = (
        "mi_http_requests_total",
        (("method", "GET"), ("route", "ui:home"), ("status", "200")),
    )
    before = scrape().get(key, 0)
    client = client_for("devops")
    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 200
    after = scrape()
    assert after[key] == before + 2
    # scrapes themselves are not counted
    assert not any(
        name == "mi_http_requests_total" and ("route", "metrics:metrics") in labels
        for name, labels in after
    )


def test_queue_depths_come_from_redis(token, settings):
    queues = {"default": f"obs-{uuid.uuid4().hex}", "probes": f"obs-{uuid.uuid4().hex}"}
    settings.MI_QUEUES = queues
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    try:
        broker.rpush(queues["default"], "a", "b", "c")
        samples = scrape()
    finally:
        broker.delete(*queues.values())
    assert (
        samples[("mi_celery_queue_depth", (("queue", queues["default"]), ("role", "default")))] == 3
    )
    assert (
        samples[("mi_celery_queue_depth", (("queue", queues["probes"]), ("role", "probes")))] == 0
    )


def test_the_periodic_task_hook_is_exposed(token):
    at = timezone.now().replace(microsecond=0)
    register_periodic_task_last_success(lambda: {"health-sweep": at, "never-ran": None})
    try:
        samples = scrape()
    finally:
        liveness_metrics.register()
    key = ("mi_periodic_task_last_success_timestamp_seconds", (("task", "health-sweep"),))
    assert samples[key] == at.timestamp()
    assert (
        "mi_periodic_task_last_success_timestamp_seconds",
        (("task", "never-ran"),),
    ) not in samples


def test_each_beat_entry_s_last_success_comes_from_the_liveness_record(token):
    # given the health sweep last succeeded a minute ago, and the audit checkpoint never
    at = (timezone.now() - timedelta(minutes=1)).replace(microsecond=0)
    PeriodicTaskRun.objects.create(task="health.tasks.health_sweep", last_success_at=at)
    # when Prometheus scrapes
    samples = scrape()
    # then the sweep's entry carries that time, and an entry that never ran has no sample
    key = ("mi_periodic_task_last_success_timestamp_seconds", (("task", "health-sweep"),))
    assert samples[key] == at.timestamp()
    assert not [
        name
        for name, labels in samples
        if name == "mi_periodic_task_last_success_timestamp_seconds"
        and labels != (("task", "health-sweep"),)
    ]
