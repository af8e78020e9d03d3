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
]
