"""The knowledge base: ranked search over published articles only, in the caller's company,
kept in step with publishing, editing, unpublishing and deleting."""

from __future__ import annotations

from domain.helpdesk import search
from tests.helpers import Account, data, expect_error


async def article(account: Account, title: str, body: str, **fields) -> dict:
    payload = {"title": title, "body": body, "status": "published", **fields}
    return data(await account.post("/api/helpdesk/articles", json=payload), 201)


async def found(account: Account, q: str, **params) -> list[str]:
    answer = data(await account.get("/api/helpdesk/articles/search", params={"q": q, **params}))
    return [hit["article"]["title"] for hit in answer["results"]]


def test_terms() -> None:
    assert search.terms("How do I export Invoices to PDF?") == ["export", "invoice", "pdf"]
    assert search.terms("Glass classes") == ["glass", "classe"]


async def test_ranking(books: Account) -> None:
    await article(
        books,
        "Refund policy",
        "Refunds are paid within 14 days.\n\nA refund goes back to the card that paid.",
    )
    await article(books, "Exporting invoices", "Export invoices as PDF or CSV from the list.")
    await article(books, "Shipping times", "Orders ship in 2 days. Refund questions: see policy.")
    assert await found(books, "refund") == ["Refund policy", "Shipping times"]
    assert await found(books, "how do I export my invoices") == ["Exporting invoices"]
    assert await found(books, "the and of") == []
    hits = data(await books.get("/api/helpdesk/articles/search", params={"q": "refund card"}))
    top = hits["results"][0]
    assert top["score"] > hits["results"][1]["score"]
    assert "card" in top["snippet"]


async def test_only_published_and_kept_in_step(books: Account) -> None:
    draft = await article(books, "Two-factor login", "Turn on two-factor login.", status="draft")
    assert await found(books, "two-factor") == []
    data(await books.post(f"/api/helpdesk/articles/{draft['id']}/publish"))
    assert await found(books, "factor") == ["Two-factor login"]
    url = f"/api/helpdesk/articles/{draft['id']}"
    data(await books.put(url, json={"title": "Passkeys", "body": "Sign in with a passkey."}))
    assert await found(books, "factor") == []
    assert await found(books, "passkeys") == ["Passkeys"]
    data(await books.post(f"{url}/unpublish"))
    assert await found(books, "passkey") == []
    data(await books.post(f"{url}/publish"))
    data(await books.delete(url))
    assert await found(books, "passkey") == []


async def test_locale_and_votes(books: Account) -> None:
    en = await article(books, "Password reset", "Reset your password from the login page.")
    await article(books, "Redefinir senha", "Redefina sua password na tela.", locale="pt-BR")
    assert await found(books, "password", locale="pt-BR") == ["Redefinir senha"]
    voted = data(
        await books.post(f"/api/helpdesk/articles/{en['id']}/vote", json={"helpful": True})
    )
    assert voted["helpful_count"] == 1 and voted["not_helpful_count"] == 0
    draft = await article(books, "Draft", "Not yet.", status="draft")
    r = await books.post(f"/api/helpdesk/articles/{draft['id']}/vote", json={"helpful": True})
    expect_error(r, 409, "invalid_transition")


async def test_another_companys_articles_are_never_found(books: Account, mallory: Account) -> None:
    await article(mallory, "Mallory secret zebra", "Only Mallory's customers read about zebras.")
    assert await found(books, "zebra") == []
    assert "Mallory secret zebra" in await found(mallory, "zebra")
