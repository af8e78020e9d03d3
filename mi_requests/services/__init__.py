"""Writes of the requests app, by concern: ``requests`` (intake and workflow), ``execution``
(lifecycle operations and their outcome), ``sla`` (alerts). Each is ``<entity>_<verb>(*, ...)``,
runs in ``transaction.atomic`` holding the request's row lock, and is audited."""
