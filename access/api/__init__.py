"""The access API (mounted under /api/v1/): request, list, review and end grants."""
