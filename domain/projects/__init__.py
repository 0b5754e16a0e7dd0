"""Projects, tasks and time: billable time that becomes invoices (issue 13)."""
