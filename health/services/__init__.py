"""Writes of the health app, one module per concern (``<entity>_<verb>(*, ...)``):

* :mod:`~health.services.sweep`: the sweep (probe, store samples, advance states)
* :mod:`~health.services.states`: suspended and stale instances, transitions
* :mod:`~health.services.version_sla`: the hourly version SLA check
* :mod:`~health.services.incidents`: open and resolve incidents
* :mod:`~health.services.deliveries`: send alerts for incidents, once per channel
* :mod:`~health.services.maintenance`: maintenance windows, past downtime as maintenance
"""
