"""``mi``: MI Admin's command line for DevOps and scripts.

It talks to MI Admin only over its JSON API (``/api/v1/``) with an access token from the
organisation's authorization server (Okta, or the local IdP of ``make run``), and never
imports the Django project: import-linter's ``cli-standalone`` contract keeps it so.
"""
