"""The bug-fix conductor (spec tag "Tai Bugfixer", module `tai`).

`POST /api/tai/bugfix/{domain}` (job `bugfix.run`, mounted by `api/bugfix.py`: a job
operation's path takes no parameter) triages a domain's open bugs through the graph of
`agents/bugfix.py`: collect -> group -> localise -> diagnose -> propose -> validate ->
persist. The reasoning that needs no model is `triage.py`, the checks of Numbors' own data
`invariants.py`, the records and the confirmed repairs `runs.py` (`GET /api/tai/bugfix/runs`,
`GET /api/tai/bugfix/stats`, `POST /api/tai/bugfix/runs/{id}/repairs/{proposal_id}/confirm`).
"""
