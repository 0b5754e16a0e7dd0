"""Bank feeds (issue 16): connections of bank accounts to a source (`connections.py`: an
uploaded statement file, or an aggregator behind `providers.py`'s Plaid-shaped port with the
deterministic `sandbox`), the lines they bring in (`lines.py`, read at
`GET /api/banking/feeds`), imported by a job that never imports a line twice (`sync.py`, run
by `conductors/bank_sync.py`), bank rules that categorise (`rules.py`), suggestions against
open invoices and bills (`matching.py`) and the reconciliation that records payments and
transactions through the banking domain (`reconcile.py`).
"""
