"""The audit trail's API (mounted under /api/v1/): the filtered events and their CSV export."""
