"""One OS process of the conformance suite's concurrency test.

    python -m tests.memory.counter_worker KIND LOCATION DATABASE COLLECTION DOC_ID ROUNDS

Opens the store, prints "ready", waits for a line on stdin (so that every worker starts
together), then ROUNDS times advances the counter "shared" and `$inc`s field `n` of the
document DOC_ID. Prints one JSON object: the counter values it was handed, and the wall
clock times its first call began and its last call ended.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from tests.memory.backends import Backend, open_store

COUNTER = "shared"


async def hammer(backend: Backend, collection: str, doc_id: str, rounds: int) -> dict:
    store = open_store(backend)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        values = []
        started = time.time()
        for _ in range(rounds):
            values.append(await store.next_value(COUNTER))
            updated = await store.update_one(collection, {"_id": doc_id}, {"$inc": {"n": 1}})
            if updated is None:
                raise RuntimeError(f"document {doc_id} not found")
        return {"values": values, "started": started, "finished": time.time()}
    finally:
        await store.close()


def main(argv: list[str]) -> None:
    kind, location, database, collection, doc_id, rounds = argv
    backend = Backend(kind, location, database)
    report = asyncio.run(hammer(backend, collection, doc_id, int(rounds)))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
