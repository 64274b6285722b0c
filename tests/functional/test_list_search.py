"""The lists' search by index (issue 11 §6, migration 0020): it still finds a sample by any part
of its number, its customer's name or pinyin initials and its description, on SQLite (FTS5
trigram tables kept in step by triggers) and PostgreSQL (pg_trgm indexes); and a list request
asks the database a fixed, small number of times."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, update

from lims.db import unit_of_work
from lims.samples import services as samples
from lims.samples.models import Sample
from tests.support.world import FMT, login

CHINESE = "湖北长江电缆有限公司"  # pinyin initials hbcjdlyxgs


class Statements:
    """Counts the statements the app's engine runs while active."""

    def __init__(self, app: Any) -> None:
        self.engine, self.n = app.extensions["lims"].engine, 0

    def _count(self, *_args: Any) -> None:
        self.n += 1

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def _register(session: Any, world: Any, customer_id: int, description: str) -> str:
    tech = world.user(session, "tech")
    with unit_of_work(session):
        req = samples.create_request(session, actor=tech, customer_id=customer_id,
                                     number_format="WT{year}-{seq:06d}", timezone="Asia/Shanghai")
        return samples.register_sample(session, actor=tech, request_id=req.id,
                                       description=description, method_ids=[world.method_id],
                                       **FMT).number


def _found(client: Any, auth: dict[str, str], q: str) -> set[str]:
    body = client.get("/api/v1/samples", query_string={"q": q, "limit": 500},
                      headers=auth).get_json()
    numbers = {s["number"] for s in body["samples"]}
    assert body["total"] == len(numbers), (q, body["total"])
    return numbers


def test_search_finds_by_number_name_initials_and_description(
        client: Any, session: Any, world: Any) -> None:
    tech = world.user(session, "tech")
    with unit_of_work(session):
        chinese = samples.create_customer(session, actor=tech, name=CHINESE).id
    cable = _register(session, world, chinese, "YJV 电力电缆 3×95")
    fabric = _register(session, world, world.customer_id, "涤棉坯布 Polyester")
    other = _register(session, world, world.customer_id, "plain steel bar")
    auth = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    # Long terms go through the trigram indexes, short ones (under 3 characters) are scanned.
    assert _found(client, auth, cable) == {cable}  # the whole number
    assert _found(client, auth, cable[-5:]) == {cable}  # a part of it
    assert _found(client, auth, "长江电缆") == {cable}  # the customer's name
    assert _found(client, auth, "长江") == {cable}
    assert _found(client, auth, "CJDL") == {cable}  # its pinyin initials, any case
    assert _found(client, auth, "hb") == {cable}
    assert _found(client, auth, "电力电缆") == {cable}  # the description
    assert _found(client, auth, "POLYESTER") == {fabric}
    assert _found(client, auth, "坯布") == {fabric}
    assert _found(client, auth, "acme") == {fabric, other}  # world's customer, ACME
    # Literal text: quotes, FTS5 syntax and LIKE wildcards find nothing they don't contain.
    for q in ('"x" OR "y"', "steel*", "%ee%", "a_b", "NEAR(x y)"):
        assert _found(client, auth, q) == set(), q
    assert _found(client, auth, "el b") == {other}  # spaces are part of the substring
    # The search index follows an edited description and forgets the old one (triggers).
    with unit_of_work(session):
        session.execute(update(Sample).where(Sample.number == other)
                        .values(description="galvanised wire"))
    assert _found(client, auth, "steel") == set()
    assert _found(client, auth, "galvanised") == {other}
    # Search and filter together.
    assert _found(client, auth, "cjdl") == {cable}
    body = client.get("/api/v1/samples?q=cjdl&status=received", headers=auth).get_json()
    assert body["total"] == 0  # registered, not received


def test_a_list_request_asks_the_database_a_fixed_small_number_of_times(
        app: Any, client: Any, session: Any, world: Any) -> None:
    """First page, a later page and a search, as page and as API: the statements per request
    stay few and do not grow with the samples listed (a query per row would)."""
    login(client, "tech")
    auth = {"Authorization": f"Bearer {world.token(session, 'tech')}"}
    targets = [("/samples?limit=2", {}), ("/samples?limit=2&page=2", {}),
               ("/samples?q=acme&status=received", {}),
               ("/api/v1/samples?limit=2", auth), ("/api/v1/samples?limit=2&page=2", auth),
               ("/api/v1/samples?q=acme&status=received", auth)]

    def counts() -> list[int]:
        found = []
        for url, headers in targets:
            with Statements(app) as statements:
                assert client.get(url, headers=headers).status_code == 200, url
            found.append(statements.n)
        return found

    for _ in range(3):
        world.new_sample(session)
    few = counts()
    for _ in range(4):
        world.new_sample(session)
    assert counts() == few
    pages, api = few[:3], few[3:]
    # A page: the user and session, the count, the ids, the rows, the filters' choices
    # (customers, methods, assignees, product categories for the filter and the register form).
    assert max(pages) <= 17, pages
    assert max(api) <= 10, api  # the token, the count, the ids, the rows
