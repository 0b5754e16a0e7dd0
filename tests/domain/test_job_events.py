"""The terminal event rebuilt from a finished job's record (its stream having expired)."""

from __future__ import annotations

from domain.jobs import final_event

BASE = {"updated_at": "2026-11-30T12:00:01.500Z"}


def test_each_final_status_has_its_event_at_the_finish_time() -> None:
    done = {**BASE, "status": "succeeded", "finished_at": "2026-11-30T12:00:01.250Z"}
    assert final_event({**done, "result": {"ok": 1}}) == ("1796040001250-0", "result", {"ok": 1})
    failed = {**done, "status": "failed", "error": {"message": "boom"}}
    assert final_event(failed)[1:] == ("error", {"message": "boom"})
    assert final_event({**done, "status": "cancelled"})[1:] == (
        "cancelled",
        {"status": "cancelled"},
    )


def test_a_record_without_a_finish_time_uses_its_last_update() -> None:
    event_id, kind, data = final_event({**BASE, "status": "failed"})
    assert (event_id, kind) == ("1796040001500-0", "error")
    assert data == {"message": "the job failed"}
