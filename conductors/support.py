"""The support answer workflow: the `support.answer` job, run by a worker.

The API stores the visitor's message and enqueues this job (`api/support.py`); the worker
retrieves the company's best published articles for the question (`domain/support/chat.py`),
has the answer written and checked (`agents/support.py`) by the process's model client (the
offline provider when none is configured), stores it as the session's next message and
answers it as the job's result. Tokens of the checked answer go out as `token` events.

Idempotent: a retried job finds the answer it already stored. A model endpoint that stays
unavailable is retried as a job (`TransientError`); on the last attempt, or when the
endpoint refuses the request, the offline answer from the same passages is stored instead
(labelled), so a visitor is never left without one.
"""

from __future__ import annotations

import logging
from typing import Any

from agents import support as agent
from agents.models import ModelError, ModelUnavailable
from agents.offline import OfflineProvider
from domain.context import Ctx
from domain.jobkit import JobRun, TransientError, handler
from domain.support import chat
from services import Services

log = logging.getLogger("numbors.support")


@handler(chat.ANSWER_KIND)
async def answer(run: JobRun[Services]) -> dict[str, Any]:
    job = run.job
    ctx = Ctx(
        store=run.store, user_id=job["created_by"], company_id=job["company_id"], role="viewer"
    )
    session_id, seq = run.input["session_id"], run.input["seq"]
    done = await chat.answer_of(ctx, session_id, seq)
    if done is not None:
        return chat.shown(done)
    session = await chat.find_session(ctx.store, session_id, ctx.company_id)
    question = await chat.message(ctx, session_id, seq)
    assert question is not None, "the visitor's message is stored before the job"
    await run.progress(0.2, "retrieve")
    found = await chat.retrieve(ctx, question["text"])
    passages = [agent.Passage(p["id"], p["title"], p["text"]) for p in found]

    async def token(text: str) -> None:
        await run.emit("token", {"text": text})

    await run.progress(0.5, "answer")
    model = run.services.model
    try:
        result = await agent.answer(model, question["text"], passages, token)
    except ModelUnavailable as error:
        if not run.last_attempt:
            raise TransientError(str(error)) from error
        log.warning("support answer: model unavailable, answering offline: %s", error)
        result = await agent.answer(OfflineProvider(), question["text"], passages, token)
    except ModelError as error:
        log.warning("support answer: model refused, answering offline: %s", error)
        result = await agent.answer(OfflineProvider(), question["text"], passages, token)
    stored = await chat.add_message(
        ctx,
        session,
        "assistant",
        result.text,
        reply_to=seq,
        citations=[{"id": p.id, "title": p.title} for p in passages if p.id in result.citations],
        provider=result.provider,
        model=result.model,
        offline=result.offline,
        grounded=result.grounded,
        notice=result.notice,
        issues=result.issues,
        validation=result.validation,
    )
    return chat.shown(stored)
