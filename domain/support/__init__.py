"""The public support chat: company keys, sessions and messages, limits, escalation."""
