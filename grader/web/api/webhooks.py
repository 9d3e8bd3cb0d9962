"""``POST /api/v1/webhooks/<source>``: submissions from course platforms (Standard Webhooks)."""
