"""Suite-wide fixtures: personas, and the plugins that start the real parts (local OIDC
provider, fleet simulator, HTTP receivers, Chromium)."""

pytest_plugins = [
    "tests.fixtures.personas",
    "tests.fixtures.celery_worker",
    "tests.fixtures.http_receiver",
    "tests.fixtures.fleetsim",
    "tests.fixtures.idp",
    "tests.fixtures.browser",
    "tests.fixtures.breakglass",
    "tests.fixtures.audit_chain",
    "tests.fixtures.flush",
]


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright keeps an event loop running in the main thread for the
    rest of the session, which code calling asyncio.run() in-process cannot share."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
