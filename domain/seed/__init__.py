"""The seed conductor (spec tag "Tai Seed Conductor", module `tai`).

- `GET /api/tai/seed/graph`: the seeders, their dependencies and the topological order
  (`graph.py`); `GET /api/tai/seed/state`: what was seeded in the company (`seeding.py`).
- `GET /api/tai/seed/profiles` and `/profile/{id}` (`profiles.py`, mounted by `api/seed.py`:
  the machinery mounts a resource's item under its own collection path, and the spec names
  the item in the singular).
- `POST /api/tai/seed/recommend` (job `seed.recommend`, `recommend.py`) and, beyond the
  spec, `POST /api/tai/seed/apply` (job `seed.apply`), run by `conductors/seed.py` over the
  graphs of `agents/seed.py`.
"""
