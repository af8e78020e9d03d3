"""Per-caller throttling: ``API_THROTTLE_RATE`` per user (a machine client is its user),
per address for the anonymous; DRF answers 429 with ``Retry-After``."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class ApiUserThrottle(UserRateThrottle):
    scope = "api_user"

    def get_rate(self) -> str | None:
        rate: str | None = settings.API_THROTTLE_RATE
        return rate


class ApiAnonThrottle(AnonRateThrottle):
    scope = "api_anon"

    def get_rate(self) -> str | None:
        rate: str | None = settings.API_ANON_THROTTLE_RATE
        return rate
