"""The one approval engine: policies, requests, reviews, the inbox (platform; no domain imports)."""
