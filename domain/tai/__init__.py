"""Tai for dev teams: bugs (by hand and triaged from CI failures, deduplicated by
fingerprint), features, sprints, the roadmap, Tai's log and experts, and Tai chat.

Modules: `grouping.py` (fingerprints), `bugs.py`, `triage.py` (CI failures into bugs),
`features.py`, `sprints.py`, `scope.py` (what items point at), `overview.py` (status,
roadmap, experts), `chat.py` (questions to Tai, answered by `agents/tai.py` in a job),
`log.py`.
"""
