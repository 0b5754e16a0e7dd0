"""Fixtures of the conformance suite: one `World` for the session.

Its owner opens a company per declaration (on first use), so tests that count or page see
only their own resource's objects; the foreign user is the suite's Mallory; the viewer is a
user given a `viewer` membership of every company the owner opens.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conformance.support import World
from tests.helpers import Account, register


@pytest.fixture(scope="session")
async def world(app: FastAPI, client: httpx.AsyncClient, mallory: Account) -> World:
    owner = await register(client, name="Connie Conformance", company_name="Conformance Ltd")
    viewer = await register(client, name="Vera Viewer", company_name="Vera Ltd")
    return World(app, client, owner, mallory, viewer)
