"""The support chat over HTTP: the public chat and history a site's widget calls, and the
escalation a company user makes.

- `POST /api/support/chat` (public): `{key, session_id?, message, email?}`. The key is the
  company's public support key (`domain/support/keys.py`); no token. The message is stored,
  then answered by a worker (`support.answer` job: retrieval over the company's published
  articles, the model or the offline provider, the grounding check). The route waits for
  the answer (bounded by `NUMBORS_JOB_WAIT_S`) and answers 201 with it; when it is not
  ready in time, 202 with the session id: the answer appears in the history. 503
  `queue_unavailable` without a job queue.
- Streamed: with `?wait=false` the chat answers 202 at once with `events_url`,
  `GET /api/support/chat/{sessionId}/events/{seq}` (public, SSE through the job platform:
  `token` events of the checked answer, then `result`; resumable with `Last-Event-ID`).
- `GET /api/support/history/{sessionId}` (public): the session's messages in order, paged
  (`page`, `limit` up to 200). The session id is the credential (unguessable); with `key`
  the session must also be that key's company's. Unknown: 404 `session_not_found`.
- `POST /api/support/escalate` (a company user, support module): the session becomes a
  ticket once; again is 409 `already_escalated` naming the ticket; another company's
  session is 404.

Abuse limits (`domain/support/limits.py`): per address and per session, 429 with
Retry-After. Bodies are bounded (a message at most 2,000 characters, unknown fields refused)
and errors carry messages and codes only: never a stack trace or an internal id.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api import PREFIX
from api import jobs as jobs_api
from api.auth import client_address
from api.deps import CompanyCtx, module_gate, services_of
from api.responses import Envelope, EnvelopeResponse, ListEnvelope, errors, failure, ok
from api.routing import LeanRoute
from domain.errors import Unavailable
from domain.fields import Email, Input, Name, ObjectIdStr, QueryBool, QueryInt
from domain.helpdesk.tickets import TICKETS
from domain.support import chat, keys
from domain.support.limits import ChatLimits, Policy

TAG = "Support Chat"
public = APIRouter(prefix=f"{PREFIX}/support", tags=[TAG], route_class=LeanRoute)
gated = APIRouter(
    prefix=f"{PREFIX}/support",
    tags=[TAG],
    dependencies=module_gate("support"),
    route_class=LeanRoute,
)
router = APIRouter()

SessionId = Annotated[str, Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Key = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class ChatIn(Input):
    key: Key = Field(description="The company's public support key (GET /api/support/keys)")
    session_id: SessionId | None = Field(None, description="Absent on the first message")
    message: Annotated[str, Field(min_length=1, max_length=2000)]
    email: Email | None = Field(None, description="The visitor's, for a reply by a person")


class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="The article's id")
    title: str


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int
    role: Literal["visitor", "assistant"]
    text: str
    created_at: str
    reply_to: int | None = None
    citations: list[Citation] | None = None
    provider: str | None = Field(None, description="openai-compatible, or offline")
    model: str | None = None
    offline: bool | None = None
    grounded: bool | None = Field(None, description="Checked against the cited articles")
    notice: str | None = None


class ChatOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str = Field(description="Send it with the next message; keep it private")
    message: Message
    answer: Message | None = Field(description="Null while it is still being written (202)")
    history_url: str
    events_url: str = Field(
        description="The answer's events (SSE: token, result; resumable with Last-Event-ID)"
    )


class EscalateIn(Input):
    session_id: SessionId
    subject: Name | None = Field(None, description="Default: the visitor's first message")
    category_id: ObjectIdStr | None = None
    priority: Literal["low", "medium", "high", "urgent"] | None = None


LIMITED = failure(429, "Too many messages: wait for Retry-After seconds", "rate_limited")
CHAT_EXAMPLE = {
    "key": "pk_0123456789abcdefghijklmnopqrstuv",
    "message": "How do I change the VAT number on my invoices?",
    "email": "dana@example.com",
}


def limits_of(request: Request) -> ChatLimits:
    """The app's chat limits, built on first use (a test may install its own)."""
    limits: ChatLimits | None = getattr(request.app.state, "support_limits", None)
    if limits is None:
        settings = services_of(request).settings
        limits = request.app.state.support_limits = ChatLimits(settings.redis_url, Policy())
    return limits


@public.post(
    "/chat",
    status_code=201,
    summary="Send message and get AI response",
    response_model=Envelope[ChatOut],
    responses={
        **errors(
            400,
            403,
            404,
            503,
            codes={
                403: ("module_disabled",),
                404: ("support_key_unknown", "session_not_found"),
                503: ("queue_unavailable", "answer_failed"),
            },
        ),
        **LIMITED,
        202: {"model": Envelope[ChatOut], "description": "Stored; the answer is not ready yet"},
    },
)
async def send(
    body: Annotated[ChatIn, Body(openapi_examples={"first": {"value": CHAT_EXAMPLE}})],
    request: Request,
    wait: Annotated[
        QueryBool, Query(description="false: answer 202 at once and stream from events_url")
    ] = True,
) -> EnvelopeResponse:
    limits = limits_of(request)
    await limits.message(client_address(request), body.session_id)
    store = services_of(request).store
    ctx, session, message = await chat.begin(
        store, body.key, body.session_id, body.message, body.email
    )
    if body.session_id is None:
        await limits.opened(session["session_id"])
    job_input = {"session_id": session["session_id"], "seq": message["seq"]}
    submission = await jobs_api.run(request, ctx, chat.ANSWER_KIND, job_input, wait=wait)
    job = submission.job
    await chat.attach_job(ctx, session["session_id"], message["seq"], job["id"])
    if job["status"] == "failed":
        raise Unavailable(
            "the answer could not be written; send the message again", code="answer_failed"
        )
    answer = job.get("result") if job["status"] == "succeeded" else None
    data: dict[str, Any] = {
        "session_id": session["session_id"],
        "message": chat.shown(message),
        "answer": answer,
        "history_url": f"{PREFIX}/support/history/{session['session_id']}",
        "events_url": f"{PREFIX}/support/chat/{session['session_id']}/events/{message['seq']}",
    }
    return ok(data, status=201 if answer else 202)


@public.get(
    "/history/{sessionId}",
    summary="A chat session's messages, in order",
    response_model=ListEnvelope[Message],
    responses={
        **errors(400, 404, codes={404: ("session_not_found", "support_key_unknown")}),
        **LIMITED,
    },
)
async def history(
    sessionId: Annotated[str, Path(description="The session id the chat answered")],
    request: Request,
    key: Annotated[
        Key | None, Query(description="With it, the session must be its company's")
    ] = None,
    page: Annotated[QueryInt, Query(ge=1, le=100_000)] = 1,
    limit: Annotated[QueryInt, Query(ge=1, le=200)] = 25,
) -> EnvelopeResponse:
    await limits_of(request).read(client_address(request))
    store = services_of(request).store
    company_id = None
    if key is not None:
        company_id = await keys.company_of(store, key)
    _, messages, total = await chat.history(store, sessionId, company_id, page, limit)
    return ok(messages, meta={"total": total, "page": page, "limit": limit})


@public.get(
    "/chat/{sessionId}/events/{seq}",
    summary="Follow an answer as it is written (SSE, resumable)",
    responses={
        **errors(400, 404, codes={404: ("session_not_found", "answer_not_found")}),
        **LIMITED,
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
        204: {"description": "The client already has the answer's last event"},
    },
)
async def answer_events(
    sessionId: Annotated[str, Path(description="The session id the chat answered")],
    seq: Annotated[int, Path(ge=1, le=1_000_000, description="The visitor message's seq")],
    request: Request,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="Resume after this event")
    ] = None,
) -> Response:
    """`token` events carry the checked answer's text; `result` the stored answer."""
    await limits_of(request).read(client_address(request))
    store = services_of(request).store
    session = await chat.find_session(store, sessionId, None)
    ctx = chat.visitor_ctx(store, session["company_id"], session)
    job_id = await chat.job_of(ctx, session["session_id"], seq)
    return await jobs_api.events(job_id, ctx, request, last_event_id)


@gated.post(
    "/escalate",
    status_code=201,
    summary="Escalate to helpdesk ticket (auth required)",
    response_model=Envelope[TICKETS.read],  # type: ignore[name-defined]
    responses=errors(
        400,
        401,
        403,
        404,
        409,
        codes={404: ("session_not_found",), 409: ("already_escalated",)},
    ),
)
async def escalate(
    body: Annotated[
        EscalateIn, Body(openapi_examples={"chat": {"value": {"session_id": "x" * 32}}})
    ],
    ctx: CompanyCtx,
) -> EnvelopeResponse:
    ticket = await chat.escalate(
        ctx,
        body.session_id,
        subject=body.subject,
        category_id=body.category_id,
        priority=body.priority,
    )
    return ok(ticket, status=201)


router.include_router(public)
router.include_router(gated)
