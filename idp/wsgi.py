"""WSGI entry of the local IdP (``python -m idp serve`` uses Django's runserver instead)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "idp.settings"

application = get_wsgi_application()
