"""The audit trail's pages: the event list, its exports and the dashboard block.

Kept apart from :mod:`mi_admin.audit` (the trail itself) because pages need the UI shell and
authorization (:mod:`mi_admin.accounts`), while accounts records logins into the trail: with
the pages inside ``mi_admin.audit`` the two packages imported each other.
"""
