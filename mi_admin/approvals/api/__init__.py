"""The approval engine's API (mounted under /api/v1/): the caller's inbox and one request."""
