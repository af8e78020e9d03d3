"""Who watches the watcher: MI Admin's own liveness.

Records each periodic task's last successful run and when a worker last answered, pings an
external heartbeat URL after each health sweep (the dead-man's switch outside), and raises
an alert when sweeps stop (the check inside, run by a worker bootstep, not by beat). See
ARCHITECTURE.md, "Who watches the watcher".

Kept free of imports at package level: ``mi_admin.celery`` imports ``bootstep`` before
Django is set up.
"""
