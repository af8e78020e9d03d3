"""Reading the fleet pages' HTML in tests."""

from __future__ import annotations

import re

FLEET_URL = "/instances/"


def row_slugs(response) -> list[str]:
    """The slugs of the fleet list's rows, in order."""
    return re.findall(r'data-testid="instance-row" data-slug="([^"]+)"', response.content.decode())


def sync_key(body: str) -> str:
    """The idempotency key a page's "Sync" form carries."""
    match = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', body)
    assert match, "the Sync form carries an idempotency key"
    return match.group(1)
