"""Full-text indexes of the embedded store: SQLite FTS5, kept in step by triggers.

A collection `c` declared with a `TextIndex` gets, next to its table:
- `c__text_src`, a view of its rows as the index sees them: the rowid, each text field as
  text (`t0`, `t1`, ...) and the keys as tokens (`k`);
- `c__text`, an FTS5 external-content table over that view (`porter unicode61
  remove_diacritics 2`: English stemming, case and accents folded);
- triggers `c__text_ai`, `c__text_ad`, `c__text_au`: after an insert, a delete, or an update
  that changes an indexed value, the row's entry is written, removed or replaced by the same
  statement, so in the same transaction (a rollback undoes both; an autocommit write too),
  whichever connection or process writes.
They are created at the collection's first use, in one write transaction that also indexes
the rows already there (FTS5 `rebuild`): an existing database gains its index on first use.
When the declaration changes (other fields or keys), they are dropped and created again in
the same way. Weights are the query's (bm25's arguments), not the schema's.

Keys: column `k` holds one token per combination of the keys' values (`k0s<hex of the
company>k1s<hex of the status>0`: at most 4 keys, so 15 tokens; the trailing digit keeps the
stemmer off them), so a search pins its keys with one phrase inside MATCH and reads only
the entries of the company's documents. The rows found are checked against the same filter
again (the collection's WHERE) before they are answered.

Ranking: bm25() with the fields' weights (0 for the keys), negated so that higher is better.
Its statistics (how many documents, how many hold a word) are the whole table's, every
company's: a score depends slightly on other companies' documents, never on their text.
Words in half of the rows or more weigh nothing in bm25 but make most of the rows to score,
so a search of several words counts each word's rows first and leaves those out while the
others still find `limit` documents (`TextSearch.run`). On the helpdesk benchmark's
10,000 articles of Zipf-distributed words: 5.9 ms of CPU per search instead of 8.4 (load 7);
191 of 200 answers identical, the 9 others swapping documents whose scores differ by less
than 4 millionths (equal but for the common words).

Entries are keyed by the collection's rowid; a VACUUM may renumber rowids (the table's key
is its text `id`), after which `INSERT INTO c__text(c__text) VALUES('rebuild')` re-indexes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from memory.store import CollectionSpec, Filter, TextHit, TextKey, text_pins, text_words

TOKENIZE = "porter unicode61 remove_diacritics 2"


def _key_part(position: int, value: TextKey) -> str:
    """One key's value in a token, as the view's SQL writes it (`_key_sql`)."""
    if value is None:
        kind = "z"
    elif value is True:
        kind = "t"
    elif value is False:
        kind = "v"
    elif isinstance(value, int):
        kind = "i" + str(value).encode().hex().upper()
    else:
        kind = "s" + value.encode().hex().upper()
    return f"k{position}{kind}"


def key_token(pins: dict[int, TextKey]) -> str:
    """The one token of a document whose keys at these positions hold these values."""
    return "".join(_key_part(i, pins[i]) for i in sorted(pins)) + "0"


def _subsets(n: int) -> list[tuple[int, ...]]:
    """Every non-empty set of key positions, each in order."""
    return [tuple(i for i in range(n) if mask >> i & 1) for mask in range(1, 1 << n)]


def _phrase(word: str) -> str:
    """An FTS5 string: whatever it holds is words, never query syntax."""
    return '"' + word.replace('"', '""') + '"'


class TextTable:
    """One collection's FTS5 index: its schema and its search."""

    def __init__(self, spec: CollectionSpec, json_path: Callable[[str], str]):
        assert spec.text is not None
        self.spec = spec
        self.index = spec.text
        self.table = spec.name
        self.fts = f"{spec.name}__text"
        self.view = f"{self.fts}_src"
        self.json_path = json_path

    # --- schema -------------------------------------------------------------------------

    def _text_sql(self, alias: str, path: str) -> str:
        return f"coalesce(json_extract({alias}.doc, '{self.json_path(path)}'), '')"

    def _key_sql(self, alias: str, position: int, path: str) -> str:
        at = f"{alias}.doc, '{self.json_path(path)}'"
        return (
            f"'k{position}' || CASE json_type({at}) "
            f"WHEN 'text' THEN 's' || hex(json_extract({at})) "
            f"WHEN 'integer' THEN 'i' || hex(json_extract({at})) "
            "WHEN 'true' THEN 't' WHEN 'false' THEN 'v' "
            "WHEN 'real' THEN 'r' WHEN 'array' THEN 'a' WHEN 'object' THEN 'o' "
            "ELSE 'z' END"
        )

    def _values(self, alias: str) -> list[str]:
        """The indexed columns' values of one row (`alias.doc`): texts, then the key tokens
        (one per combination of keys, so that a search pins any of them with one phrase)."""
        parts = [self._key_sql(alias, i, path) for i, path in enumerate(self.index.keys)]
        tokens = [
            " || ".join([*(parts[i] for i in subset), "'0'"]) for subset in _subsets(len(parts))
        ]
        return [
            *(self._text_sql(alias, path) for path in self.index.fields),
            " || ' ' || ".join(tokens) or "''",
        ]

    def _columns(self) -> list[str]:
        return [*(f"t{i}" for i in range(len(self.index.fields))), "k"]

    def schema(self) -> dict[str, str]:
        """The objects the index is made of, by name, each with its CREATE statement."""
        columns = self._columns()
        listed = ", ".join(columns)
        selected = ", ".join(
            f"{value} AS {column}"
            for value, column in zip(self._values(self.table), columns, strict=True)
        )
        old, new = ", ".join(self._values("old")), ", ".join(self._values("new"))
        insert = f"INSERT INTO {self.fts}(rowid, {listed}) VALUES (new.rowid, {new});"
        delete = (
            f"INSERT INTO {self.fts}({self.fts}, rowid, {listed}) "
            f"VALUES ('delete', old.rowid, {old});"
        )
        changed = " OR ".join(
            f"({a}) IS NOT ({b})"
            for a, b in zip(self._values("old"), self._values("new"), strict=True)
        )
        t = self.table
        return {
            self.view: f"CREATE VIEW {self.view} AS SELECT rowid AS rid, {selected} FROM {t}",
            self.fts: (
                f"CREATE VIRTUAL TABLE {self.fts} USING fts5({listed}, "
                f"content='{self.view}', content_rowid='rid', tokenize='{TOKENIZE}')"
            ),
            f"{self.fts}_ai": (
                f"CREATE TRIGGER {self.fts}_ai AFTER INSERT ON {t} BEGIN {insert} END"
            ),
            f"{self.fts}_ad": (
                f"CREATE TRIGGER {self.fts}_ad AFTER DELETE ON {t} BEGIN {delete} END"
            ),
            f"{self.fts}_au": (
                f"CREATE TRIGGER {self.fts}_au AFTER UPDATE OF doc ON {t} WHEN {changed} "
                f"BEGIN {delete} {insert} END"
            ),
        }

    def _current(self, conn: sqlite3.Connection, wanted: dict[str, str]) -> bool:
        marks = ", ".join("?" for _ in wanted)
        rows = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE name IN ({marks})", list(wanted)
        )
        return dict(rows.fetchall()) == wanted

    def ensure(self, conn: sqlite3.Connection, ddl: Callable[[str], None]) -> None:
        """Create the index (and index the existing rows) unless it stands as declared.

        In a write transaction of its own (or the one already open on `conn`), checked again
        once the write lock is held: another process may have built it meanwhile."""
        wanted = self.schema()
        if self._current(conn, wanted):
            return
        own = not conn.in_transaction
        if own:
            ddl("BEGIN IMMEDIATE")
        try:
            if not self._current(conn, wanted):
                for name in list(wanted)[2:]:
                    conn.execute(f"DROP TRIGGER IF EXISTS {name}")
                conn.execute(f"DROP TABLE IF EXISTS {self.fts}")
                conn.execute(f"DROP VIEW IF EXISTS {self.view}")
                for sql in wanted.values():
                    conn.execute(sql)
                conn.execute(f"INSERT INTO {self.fts}({self.fts}) VALUES ('rebuild')")
        except BaseException:
            if own:
                conn.execute("ROLLBACK")
            raise
        if own:
            conn.execute("COMMIT")

    # --- search -------------------------------------------------------------------------

    def plan(
        self,
        text: str,
        filter: Filter | None,
        limit: int,
        where: Callable[[Filter | None], tuple[str, list[Any]]],
    ) -> TextSearch | None:
        """A search of `text` (checked here, run by `TextSearch.run`), or None when nothing
        can match."""
        pins = text_pins(self.spec, filter)
        words = text_words(text)
        if not words or limit <= 0:
            return None
        fields = " ".join(f"t{i}" for i in range(len(self.index.fields)))
        scope = ""
        if pins:
            token = key_token({self.index.keys.index(k): v for k, v in pins.items()})
            scope = f"k : {_phrase(token)} AND "
        weights = ", ".join([*(f"{w:.1f}" for w in self.index.weights), "0.0"])
        checked, params = where(pins)
        sql = (
            f"SELECT {self.table}.doc, -found.rank FROM ("
            f"SELECT rowid AS rid, bm25({self.fts}, {weights}) AS rank FROM {self.fts} "
            f"WHERE {self.fts} MATCH ? ORDER BY rank, rowid LIMIT ?) AS found "
            f"JOIN {self.table} ON {self.table}.rowid = found.rid "
            f"WHERE {checked} ORDER BY found.rank, {self.table}.id"
        )
        return TextSearch(self, words, f"{{{fields}}} : ", scope, sql, [limit, *params], limit)


@dataclass(frozen=True)
class TextSearch:
    """One planned search: its words, the MATCH around them, the ranked SELECT."""

    table: TextTable
    words: list[str]
    columns: str
    scope: str
    sql: str
    params: list[Any]
    limit: int

    def _match(self, words: list[str]) -> str:
        return f"{self.scope}{self.columns}({' OR '.join(_phrase(w) for w in words)})"

    def _ranked(self, conn: sqlite3.Connection, words: list[str]) -> list[TextHit]:
        return hits(conn.execute(self.sql, [self._match(words), *self.params]))

    def _common(self, conn: sqlite3.Connection) -> set[str]:
        """The words in at least half of the table's rows (every company's). bm25 gives them
        no weight (FTS5 clamps an idf <= 0 to 1e-6), yet they make most of the rows it must
        score. `max(rowid)` bounds the row count from above, so a word found common is."""
        counts = ", ".join(
            f"(SELECT count(*) FROM {self.table.fts} WHERE {self.table.fts} MATCH ?)"
            for _ in self.words
        )
        row = conn.execute(
            f"SELECT (SELECT max(rowid) FROM {self.table.table}), {counts}",
            [f"{self.columns}{_phrase(w)}" for w in self.words],
        ).fetchone()
        rows = row[0] or 0
        return {w for w, n in zip(self.words, row[1:], strict=True) if 2 * n >= rows}

    def run(self, conn: sqlite3.Connection) -> list[TextHit]:
        """The ranked documents. Common words are left out of the MATCH first: when that
        still finds `limit` documents they are the best ones (a common word adds at most a
        few millionths to a score, so only documents that close may swap); when it finds
        fewer, all the words again."""
        if len(self.words) > 1:
            common = self._common(conn)
            rare = [w for w in self.words if w not in common]
            if common and rare:
                found = self._ranked(conn, rare)
                if len(found) >= self.limit:
                    return found
        return self._ranked(conn, self.words)


def hits(rows: sqlite3.Cursor) -> list[TextHit]:
    return [TextHit(orjson.loads(doc), score) for doc, score in rows]
