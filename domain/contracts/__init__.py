"""Contracts and proposals: proposals (lines and totals, valid until a date) that become
contracts when accepted; contracts whose status follows their dates."""
