"""Health, versions and SLA status of every instance, with alerts.

Probes (``probes``) feed the sweep (``services``), which stores samples and daily rollups,
derives each instance's state with hysteresis (``hysteresis``) and opens or resolves
incidents (``incidents``). Reads for pages live in ``selectors`` and ``versions``.
"""
