"""The public support chat's records: sessions, their messages, the passages an answer is
grounded in, and the escalation of a session to a helpdesk ticket.

- A session belongs to the company whose public key opened it (`keys.py`). Its id is 32
  random URL-safe characters (192 bits): it is the visitor's only credential, so it is never
  listed publicly and cannot be guessed. An unknown id, or one sent with another company's
  key, is the same 404.
- Messages are numbered in the session (`seq`, an atomic counter on the session) and read
  back in order, paged (`history`). A visitor message and the answer to it are two
  messages; the answer names the one it answers (`reply_to`), and a retried answer job
  finds the answer it already stored instead of writing another.
- Retrieval: the question's best published articles of the session's company (ranked search,
  `articles.found`: the store's text index), at most `MOST_ARTICLES`, each with its best
  passages. No other company's article can be retrieved: the index query pins the company.
- Escalation turns a session into a ticket of the same company (channel chat, the
  requester's email if given, the transcript as description, the category's defaults and
  the SLA applied as for any ticket). It happens once: the session is marked inside the
  ticket's transaction by a conditional write, so a second or concurrent escalation is 409
  `already_escalated` naming the ticket.
"""

from __future__ import annotations

import secrets
from typing import Any

from domain import resources
from domain.context import Ctx
from domain.errors import Conflict, NotFound
from domain.helpdesk import articles, search
from domain.helpdesk.tickets import TICKETS
from domain.modules import licences
from domain.support import keys
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, DocumentStore, declare

declare(
    CollectionSpec(
        "support_sessions",
        fields=("company_id", "created_at"),
        indexes=(("company_id", "created_at"),),
        unique=(("session_id",),),
    )
)
declare(
    CollectionSpec(
        "support_messages",
        fields=("company_id", "session_id", "seq"),
        indexes=(("company_id", "session_id", "reply_to"),),
        unique=(("session_id", "seq"),),
    )
)
ANSWER_KIND = "support.answer"
"""The job that writes an answer (`conductors/support.py`)."""
MOST_ARTICLES = 3
TRANSCRIPT_CHARS = 4800
UNKNOWN = "no chat session with this id"


def visitor_ctx(store: DocumentStore, company_id: str, session: dict[str, Any] | None) -> Ctx:
    """A visitor acts in the company of the key; its records are created by its session."""
    user = session["_id"] if session else new_id()
    return Ctx(store=store, user_id=user, company_id=company_id, role="viewer")


async def open_session(ctx: Ctx, email: str | None) -> dict[str, Any]:
    now = utcnow()
    session = {
        "_id": ctx.user_id,
        "company_id": ctx.company_id,
        "session_id": secrets.token_urlsafe(24),
        "email": email,
        "messages": 0,
        "escalated_ticket_id": None,
        "created_at": now,
        "updated_at": now,
    }
    await ctx.store.insert_one("support_sessions", session)
    return session


async def begin(
    store: DocumentStore, key: str, session_id: str | None, text: str, email: str | None
) -> tuple[Ctx, dict[str, Any], dict[str, Any]]:
    """A visitor's message stored in its session (opened when `session_id` is absent), in
    the company the key names, whose licence must enable the support chat."""
    company_id = await keys.company_of(store, key)
    licences.check(await licences.load(store, company_id), "support")
    if session_id is None:
        ctx = visitor_ctx(store, company_id, None)
        session = await open_session(ctx, email)
    else:
        session = await find_session(store, session_id, company_id)
        ctx = visitor_ctx(store, company_id, session)
    return ctx, session, await add_message(ctx, session, "visitor", text, email=email)


async def find_session(store: DocumentStore, session_id: str, company_id: str | None) -> dict:
    """The session of this id (in `company_id` when given), or 404."""
    filter: dict[str, Any] = {"session_id": session_id}
    if company_id is not None:
        filter["company_id"] = company_id
    found = await store.find_one("support_sessions", filter) if len(session_id) <= 64 else None
    if found is None:
        raise NotFound(UNKNOWN, code="session_not_found")
    return found


async def add_message(
    ctx: Ctx, session: dict[str, Any], role: str, text: str, **extra: Any
) -> dict[str, Any]:
    changes: dict[str, Any] = {"updated_at": utcnow()}
    if role == "visitor" and extra.get("email") and not session.get("email"):
        changes["email"] = extra["email"]
    extra.pop("email", None)
    counted = await ctx.store.update_one(
        "support_sessions",
        ctx.scope(_id=session["_id"]),
        {"$inc": {"messages": 1}, "$set": changes},
    )
    assert counted is not None
    message = {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "session_id": session["session_id"],
        "seq": counted["messages"],
        "role": role,
        "text": text,
        **extra,
        "created_at": utcnow(),
    }
    await ctx.store.insert_one("support_messages", message)
    return message


async def attach_job(ctx: Ctx, session_id: str, seq: int, job_id: str) -> None:
    """Remember which job answers a visitor message (its events are the answer's stream)."""
    await ctx.store.update_one(
        "support_messages", ctx.scope(session_id=session_id, seq=seq), {"$set": {"job_id": job_id}}
    )


async def job_of(ctx: Ctx, session_id: str, seq: int) -> str:
    found = await message(ctx, session_id, seq)
    if found is None or not found.get("job_id"):
        raise NotFound(f"message {seq} of this chat has no answer stream", code="answer_not_found")
    return found["job_id"]


async def answer_of(ctx: Ctx, session_id: str, seq: int) -> dict[str, Any] | None:
    return await ctx.store.find_one(
        "support_messages", ctx.scope(session_id=session_id, reply_to=seq)
    )


async def message(ctx: Ctx, session_id: str, seq: int) -> dict[str, Any] | None:
    return await ctx.store.find_one("support_messages", ctx.scope(session_id=session_id, seq=seq))


def shown(message: dict[str, Any]) -> dict[str, Any]:
    """A message as a visitor reads it: no internal ids but the cited articles'."""
    out = {
        "seq": message["seq"],
        "role": message["role"],
        "text": message["text"],
        "created_at": message["created_at"],
    }
    if message["role"] == "assistant":
        out.update(
            reply_to=message.get("reply_to"),
            citations=message.get("citations") or [],
            provider=message.get("provider"),
            model=message.get("model"),
            offline=bool(message.get("offline")),
            grounded=bool(message.get("grounded")),
            notice=message.get("notice"),
        )
    return out


async def history(
    store: DocumentStore, session_id: str, company_id: str | None, page: int, limit: int
) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    session = await find_session(store, session_id, company_id)
    filter = {"company_id": session["company_id"], "session_id": session["session_id"]}
    found = await store.find(
        "support_messages", filter, sort=[("seq", 1)], skip=(page - 1) * limit, limit=limit
    )
    total = await store.count("support_messages", filter)
    return session, [shown(m) for m in found], total


async def retrieve(ctx: Ctx, question: str) -> list[dict[str, Any]]:
    """The question's best published articles of the company, with their best passages."""
    found = await articles.found(ctx, question, None, MOST_ARTICLES)
    return [
        {
            "id": doc["_id"],
            "title": doc["title"],
            "text": "\n\n".join(search.passages(doc, question)),
            "score": doc["score"],
        }
        for doc in found
    ]


def transcript(messages: list[dict[str, Any]]) -> str:
    lines = [
        f"{'Visitor' if m['role'] == 'visitor' else 'Assistant'}: {m['text']}" for m in messages
    ]
    text = "\n\n".join(lines)
    if len(text) > TRANSCRIPT_CHARS:
        text = "\u2026" + text[-(TRANSCRIPT_CHARS - 1) :]
    return text


async def escalate(
    ctx: Ctx,
    session_id: str,
    *,
    subject: str | None,
    category_id: str | None,
    priority: str | None,
) -> dict[str, Any]:
    """A ticket from the session, once (409 `already_escalated` names the ticket)."""
    resources.authorize(ctx, "member")
    async with ctx.store.transaction():
        session = await find_session(ctx.store, session_id, ctx.company_id)
        if session.get("escalated_ticket_id"):
            raise _escalated(session)
        messages = await ctx.store.find(
            "support_messages", ctx.scope(session_id=session_id), sort=[("seq", 1)]
        )
        first = next((m["text"] for m in messages if m["role"] == "visitor"), "Support chat")
        fields: dict[str, Any] = {
            "subject": subject or _subject(first),
            "description": transcript(messages) or None,
            "requester_email": session.get("email"),
            "category_id": category_id,
            "priority": priority,
            "channel": "chat",
            "status": "new",
            "chat_session_id": session_id,
        }
        ticket = await resources.insert(ctx, TICKETS, {k: v for k, v in fields.items() if v})
        marked = await ctx.store.update_one(
            "support_sessions",
            ctx.scope(_id=session["_id"], escalated_ticket_id=None),
            {"$set": {"escalated_ticket_id": ticket["_id"], "updated_at": utcnow()}},
        )
        if marked is None:  # another escalation won meanwhile: this one rolls back
            raise _escalated(await find_session(ctx.store, session_id, ctx.company_id))
    return await resources.view(ctx, TICKETS, ticket)


def _subject(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 120 else line[:119].rsplit(" ", 1)[0] + "\u2026"


def _escalated(session: dict[str, Any]) -> Conflict:
    ticket = session["escalated_ticket_id"]
    return Conflict(
        f"this chat was already escalated to ticket {ticket}",
        code="already_escalated",
        details=[{"ticket_id": ticket}],
    )
