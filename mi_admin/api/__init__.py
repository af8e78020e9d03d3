"""The JSON API's platform: how every endpoint authenticates (Okta bearer tokens or the
browser session with CSRF), authorizes (the role → permission table of
``mi_admin.accounts.roles``, declared per method on each view), paginates (cursor), throttles
(per user), answers errors (``application/problem+json``) and honours ``Idempotency-Key``.

Endpoints live in their apps (``instances/api/``) and build on :class:`ApiView`; this
package imports no app above the platform.
"""
