"""Alert senders: PagerDuty, Opsgenie and Slack notifiers with a shared retry policy.

Only delivery lives here; deciding when to trigger or resolve (incidents, dedup state) is
built on top of it. See ``base`` for the types and ``dispatch`` for the configured senders.
"""
