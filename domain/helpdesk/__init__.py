"""Helpdesk: categories, SLA policies and their business-time clock, tickets and replies,
the knowledge base and its search."""
