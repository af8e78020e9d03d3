"""The fleet's JSON API (mounted under /api/v1/): instances, releases, operations."""
