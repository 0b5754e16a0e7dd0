"""Campaigns: leads attributed, converted, won deals and value, cost per lead, return on
spend."""

from __future__ import annotations

from tests.helpers import Account, data


async def test_a_campaigns_read_shows_its_results(books: Account) -> None:
    body = {"name": "Webinar", "channel": "events", "budget": 1000, "starts_at": "2026-10-01"}
    campaign = data(await books.post("/api/crm/campaigns", json=body), 201)
    assert (campaign["leads"], campaign["cost_per_lead"], campaign["return_on_spend"]) == (
        0,
        None,
        0,
    )
    leads = [
        data(
            await books.post(
                "/api/crm/leads",
                json={
                    "name": f"L{i}",
                    "email": f"l{i}@camp.example",
                    "campaign_id": campaign["id"],
                },
            ),
            201,
        )
        for i in range(3)
    ]
    won = data(
        await books.post(f"/api/crm/leads/{leads[0]['id']}/convert", json={"value": 2500}),
    )
    data(await books.post(f"/api/crm/deals/{won['deal_id']}/win", json={}))
    data(await books.post(f"/api/crm/leads/{leads[1]['id']}/convert", json={"value": 700}))
    read = data(await books.get(f"/api/crm/campaigns/{campaign['id']}"))
    assert (read["leads"], read["converted"], read["won_deals"], read["won_value"]) == (
        3,
        2,
        1,
        2500,
    )
    assert read["cost_per_lead"] == 333.33
    assert read["return_on_spend"] == 2.5
    listed = data(await books.get("/api/crm/campaigns"))
    assert listed == [read]
    free = data(
        await books.post("/api/crm/campaigns", json={"name": "Free", "starts_at": "2026-10-01"}),
        201,
    )
    assert free["return_on_spend"] is None
