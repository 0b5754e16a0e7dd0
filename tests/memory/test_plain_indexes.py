"""Which plain indexes an adapter builds for a declaration (`memory.store.plain_indexes`)."""

from __future__ import annotations

from memory.store import CollectionSpec, plain_indexes

SPEC = CollectionSpec(
    "plain_index_things",
    indexes=(("a", "b"), ("a", "b", "c"), ("a",), ("a", "e"), ("a", "d")),
    unique=(("a", "d", "x"), ("a", "e")),
)


def test_an_index_that_leads_another_is_not_built() -> None:
    # (a) and (a, b) lead (a, b, c); in SQLite the unique (a, d, x) serves (a, d), and the
    # unique (a, e) is the index on (a, e) itself
    assert plain_indexes(SPEC, unique_serves=True) == (("a", "b", "c"),)


def test_partial_unique_indexes_get_a_plain_one_beside_them() -> None:
    # MongoDB's unique indexes are partial: (a, d) is led by the plain (a, d, x) instead
    assert plain_indexes(SPEC, unique_serves=False) == (
        ("a", "b", "c"),
        ("a", "e"),
        ("a", "d", "x"),
    )


def test_one_index_per_field_when_none_is_composite() -> None:
    spec = CollectionSpec("plain_index_fields", fields=("a", "b"))
    assert plain_indexes(spec, unique_serves=True) == (("a",), ("b",))
