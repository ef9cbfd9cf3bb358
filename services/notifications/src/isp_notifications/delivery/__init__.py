"""Getting alerts to their recipients: webhook signing, retries, heartbeats, escalation."""
