"""Reading the fleet list's HTML in tests."""

from __future__ import annotations

import re

FLEET_URL = "/instances/"


def row_slugs(response) -> list[str]:
    """The slugs of the fleet list's rows, in order."""
    return re.findall(r'data-testid="instance-row" data-slug="([^"]+)"', response.content.decode())
