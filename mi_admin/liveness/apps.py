from django.apps import AppConfig


class LivenessConfig(AppConfig):
    name = "mi_admin.liveness"
    label = "liveness"
    verbose_name = "Liveness of MI Admin itself"

    def ready(self) -> None:
        # signals records periodic runs and pings the heartbeat URL; dashboard registers
        # the "Control plane" widget; metrics puts each periodic task's last success on
        # /metrics.
        from mi_admin.liveness import dashboard, metrics, signals  # noqa: F401

        metrics.register()
