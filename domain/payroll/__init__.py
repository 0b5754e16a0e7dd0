"""Payroll: departments, employees and pay runs that post to the ledger (issue 13).

No country's tax tables: income tax, social security and the like are declared components
of an employee (a deduction or an employer contribution, fixed or a percentage), posted to
the liability account the component names.
"""
