from tests.helpers import Account, data


async def test_registered_user_sees_own_company(alice: Account) -> None:
    me = data(await alice.get("/api/auth/me"))
    assert me["email"] == alice.email
    assert [c["id"] for c in me["companies"]] == [alice.company_id]
