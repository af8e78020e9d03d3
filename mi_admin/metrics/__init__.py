"""Prometheus metrics: the ``/metrics`` endpoint, its scrape check, the HTTP series, and the
registry domain apps add their series to (see :mod:`mi_admin.metrics.registry`)."""
