"""Suite-wide fixtures: personas, and the plugins that start the real parts (local OIDC
provider, fleet simulator, HTTP receivers, Chromium)."""

pytest_plugins = [
    "tests.fixtures.personas",
    "tests.fixtures.http_receiver",
]
