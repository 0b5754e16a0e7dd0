"""Chooses the document-store adapter from settings."""

from __future__ import annotations

from memory.store import DocumentStore
from settings import Settings


def open_store(settings: Settings) -> DocumentStore:
    if settings.mongodb_url:
        from memory.mongo import MongoStore

        return MongoStore(settings.mongodb_url, settings.mongodb_db)
    from memory.sqlite import SQLiteStore

    return SQLiteStore(settings.sqlite_file)
