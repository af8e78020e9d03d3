"""WSGI entry point (gunicorn mi_admin.wsgi; runserver loads it too)."""

import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mi_admin.settings")
application = get_wsgi_application()

from mi_admin.celery import publisher_warm_up  # noqa: E402  (needs Django set up)

# Off the start-up path: a broker that is down must not hold the server back.
threading.Thread(target=publisher_warm_up, name="celery-warm-up", daemon=True).start()
