"""Questions to Tai (`POST /api/tai/message`): what is asked, and the tracker's state Tai
answers from.

A question is a job (`tai.message`) run by a worker (`conductors/tai.py`, the graph in
`agents/tai.py`), so a slow model never holds an API process. It belongs to a conversation
thread: `thread_id` continues one (its history is kept by LangGraph's checkpointer, under a
key that includes the company, so a thread id of another company is a new, empty thread);
none starts a new one, and the answer names it.

`snapshot(ctx)` is everything Tai may state: the status summary, the open bugs (most
severe first), the features, the active sprint, the roadmap and the recent log, read in
the asker's company only. The agent computes its facts from this and nothing else.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain import resources
from domain.context import Ctx
from domain.fields import Input, LongText, ObjectIdStr
from domain.tai import bugs, features, log, overview, sprints
from memory.ids import new_id

KIND = "tai.message"
MOST_BUGS = 10
MOST_EVENTS = 5


class MessageIn(Input):
    message: LongText = Field(min_length=1, description="The question to Tai")
    thread_id: ObjectIdStr | None = Field(None, description="Continue this conversation")


class FactOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    label: str
    value: float
    unit: str


class ExpertRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    name: str
    domain: str
    model: str | None = None


class Checked(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(description="passed, corrected or flagged")
    issues: list[dict[str, Any]]


class AnswerOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thread_id: str = Field(description="Send it back to continue the conversation")
    question: str
    answer: str = Field(description="Validated: every figure a fact, every id a known one")
    expert: ExpertRef
    facts: list[FactOut] = Field(description="The figures Tai may state, computed")
    references: list[str] = Field(description="The ids of the objects it may name")
    provider: str
    model: str
    offline: bool = Field(description="True: the offline answer, no language model")
    notice: str | None
    usage: dict[str, Any]
    validation: Checked
    turns: int = Field(description="Questions in the thread so far, this one included")


async def prepare(ctx: Ctx, body: MessageIn) -> dict[str, Any]:
    resources.authorize(ctx, "member")
    return {"message": body.message, "thread_id": body.thread_id or new_id()}


def _bug(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "title", "severity", "domain", "status", "occurrences", "flaky")
    return {k: doc[k] for k in keys}


async def snapshot(ctx: Ctx) -> dict[str, Any]:
    open_bugs = await bugs.open_bugs(ctx)
    stats = await features.stats(ctx, features.NoQuery())
    board = await features.board(ctx, features.NoQuery())
    events = await ctx.store.find(
        log.COLLECTION, ctx.scope(), sort=[("created_at", -1)], limit=MOST_EVENTS
    )
    return {
        "status": await overview.status(ctx),
        "bugs": [_bug(b) for b in open_bugs[:MOST_BUGS]],
        "features": {
            "stats": stats,
            "items": [
                {**card, "status": column["status"]}
                for column in board["columns"]
                for card in column["features"]
            ],
        },
        "sprint": await sprints.active_sprint(ctx),
        "roadmap": await overview.roadmap(ctx),
        "log": [{"type": e["type"], "summary": e["summary"]} for e in events],
        "experts": await overview.experts(ctx),
    }


async def answered(ctx: Ctx, question: str, result: dict[str, Any]) -> None:
    await log.record(
        ctx,
        "message.answered",
        f"Tai ({result['expert']['name']}) answered: {question[:120]}",
        thread_id=result["thread_id"],
        provider=result["provider"],
        validation=result["validation"]["status"],
    )
