"""One OS process of the numbering test: creates invoices through the domain layer.

    python -m tests.domain.numbering_worker DATABASE COMPANY_ID USER_ID CONTACT_ID COUNT

Opens its own SQLiteStore on the shared file, prints "ready", waits for a line on stdin (so
both workers start together), then creates COUNT invoices (every other one sent, so the
journal's counter is contended too). Prints one JSON object: the document numbers it got
(the parent reads the journal entries from the file).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import domain.contacts  # noqa: F401  (declares the collections the hooks read)
from domain.context import Ctx
from domain.documents.documents import DOCUMENTS
from domain.resources import create_document
from memory.sqlite import SQLiteStore


def invoice(contact_id: str, i: int) -> dict[str, Any]:
    return {
        "type": "invoice",
        "contact_id": contact_id,
        "issued_at": "2025-03-01",
        "due_at": "2025-03-31",
        "status": "sent" if i % 2 else "draft",
        "lines": [{"name": f"Line {i}", "quantity": "1", "price": f"{i + 1}.25"}],
    }


async def run(path: str, company_id: str, user_id: str, contact_id: str, count: int) -> None:
    store = SQLiteStore(path)
    try:
        ctx = Ctx(store=store, user_id=user_id, company_id=company_id, role="owner")
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        numbers = []
        for i in range(count):
            doc = await create_document(ctx, DOCUMENTS, invoice(contact_id, i))
            numbers.append(doc["number"])
        print(json.dumps({"numbers": numbers}), flush=True)
    finally:
        await store.close()


def main(argv: list[str]) -> None:
    path, company_id, user_id, contact_id, count = argv
    asyncio.run(run(path, company_id, user_id, contact_id, int(count)))


if __name__ == "__main__":
    main(sys.argv[1:])
