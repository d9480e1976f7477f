"""The judgment store: graded relevance judgments and blind A/B votes, on disk, one SQLite file per corpus.

File: ``<root>/judgments/<corpus sha256>.sqlite`` (root: ``core.store.default_root()``). The corpus sha256 is
kept in a ``meta`` table; opening the file for another corpus raises a StoreError that says so.

Semantics (what every reader of the store can rely on):

- Rows are append-only history. Recording the same (query, chunk, rater, origin) again adds a row; the
  *latest* one (highest time, then insertion order) is the current judgment. ``judgments()`` returns only
  those. ``label=None`` is a *skip*: it counts as "seen" for progress but never reaches qrels.
- ``undo(rater)`` deletes that rater's most recent pooled row (judgment or skip), so an earlier judgment of
  the same pair, if any, becomes current again.
- ``qrels(source)``: per (query, chunk) the current labels of every rater in the chosen origins, skips
  excluded, merged by the median rounded down (``floor(statistics.median(labels))``: [0, 2] -> 1,
  [1, 2] -> 1, [0, 1, 2] -> 1). A person's judgment of a pair always wins over the LLM judge's: ``"union"``
  uses pooled and imported labels where a pair has any, the Compare page's thumbs only for pairs nobody judged
  otherwise, and LLM labels (origin ``"llm"``, core.judging.llm_judge) only for pairs no person labelled;
  ``"human"`` is that merge without the LLM (people's labels only), ``"llm"`` the LLM's labels alone (each
  origin name alone is that origin's labels). The store does not know the corpus's chunks:
  a "chunk_id" is whatever was judged, a chunk id (Judge page, thumbs) or a file path (imported file-level
  qrels, as the sample's and judged folders'). Qrels mixing the two are refused by
  ``core.evaluation.run.choose_doc_key`` and made file-level by ``core.evaluation.run.align_doc_ids``.
- Concurrency: SQLite in WAL mode, one short connection per operation with a 30 s busy timeout, so several
  threads, sessions and processes can write at once and lose nothing.
- ``dump()``/``load()`` move the whole history (judgments and votes) as JSON-serialisable data; ``load``
  skips rows already present (same fields), so loading twice adds nothing.
- Query ids: ``query_id(text)`` is the one id of a query the app makes (Judge, Compare thumbs and downloads,
  votes, imports on the Judge page and from bundles), so the same text is one query in every source. Rows
  added with an explicit id keep it (a judgments.csv's own), except thumbs: a thumbs row is always keyed by
  its text's id, and opening a store re-keys, once, thumbs saved under another id (earlier versions kept a
  sample query's own id, q01 …). ``legacy_query_id`` only recognises the ids Compare's downloads once gave
  (``u`` + sha1), so such a file read again lands on ``query_id(text)``.
"""

from __future__ import annotations

import hashlib
import math
import re
import sqlite3
import statistics
import time as _time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

from core.errors import StoreError
from core.store import ENV_VAR, default_root
from core.text import clean_text

Origin = Literal["pooled", "thumbs", "imported", "llm"]  # "llm": an LLM judge's grade (never a person's)
Winner = Literal["left", "right", "tie", "both_bad"]
Source = Literal["pooled", "thumbs", "imported", "llm", "union", "human"]
ORIGINS: tuple[str, ...] = get_args(Origin)
HUMAN_ORIGINS: tuple[str, ...] = ("pooled", "thumbs", "imported")  # labels a person gave (or a person's file)
WINNERS: tuple[str, ...] = get_args(Winner)
SOURCES: tuple[str, ...] = get_args(Source)
LABELS = (0, 1, 2)  # 0 not relevant, 1 partly, 2 highly relevant (pooled judging and thumbs)
DUMP_FORMAT = 1
SCHEMA_VERSION = "1"
THUMBS_IDS = "text"  # meta value once thumbs rows are keyed by query_id(text)
BUSY_TIMEOUT_S = 30.0
MAX_TEXT = 20_000  # characters of a query text kept
MAX_NAME = 200  # characters of a rater name, chunk id or model name
# Integer ranges every row must fit (SQLite keeps 64-bit integers: 10**20 was an OverflowError, not a message)
MAX_GRADE = 1000  # |label| of an imported judgment (TREC grades are small: -2 to 4)
MAX_DEPTH_K = 10_000  # a pool depth or a vote's k (the pages offer up to 100)
TIME_RANGE = (-62_135_596_800, 253_402_300_799)  # unix seconds of 0001-01-01 and 9999-12-31T23:59:59Z (UTC):
# the instants a CSV export can write as time_utc
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS judgments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id TEXT NOT NULL, query TEXT NOT NULL, chunk_id TEXT NOT NULL,
    label INTEGER, rater TEXT NOT NULL, time REAL NOT NULL, pool_depth INTEGER, origin TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS judgments_row
    ON judgments (query_id, chunk_id, rater, origin, time, IFNULL(label, -1000000));
CREATE INDEX IF NOT EXISTS judgments_key ON judgments (query_id, chunk_id, rater, origin);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id TEXT NOT NULL, query TEXT NOT NULL, model_a TEXT NOT NULL, model_b TEXT NOT NULL,
    left_model TEXT NOT NULL, winner TEXT NOT NULL, rater TEXT NOT NULL, time REAL NOT NULL, k INTEGER NOT NULL,
    UNIQUE (query_id, model_a, model_b, left_model, winner, rater, time, k)
);
"""
_J_COLS = "query_id, query, chunk_id, label, rater, time, pool_depth, origin"
_V_COLS = "query_id, query, model_a, model_b, left_model, winner, rater, time, k"


def query_id(text: str) -> str:
    """Stable id of a typed query: ``"q" + sha256(text.strip())[:12]`` (UTF-8) of the text as the store keeps it
    (``clean_text``: a lone surrogate or non-character counts as U+FFFD), so a text and its stored form are
    one query."""
    return "q" + hashlib.sha256(_clean(text).strip().encode("utf-8")).hexdigest()[:12]


def _clean(value: str) -> str:
    """``value`` with the code points no UTF-8 file, tokenizer or page can carry replaced (``clean_text``)."""
    return clean_text(value)[0] if isinstance(value, str) else value


def legacy_query_id(text: str) -> str:
    """The id Compare's qrels.tsv / queries.jsonl downloads gave a typed query before ``query_id`` was the only
    scheme: ``"u" + sha1(text)[:10]`` (UTF-8, not stripped). Only for reading such files again: an id equal
    to ``legacy_query_id(text)`` of its text stands for ``query_id(text)``."""
    return "u" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]


@dataclass(frozen=True)
class Judgment:
    query_id: str
    query: str
    chunk_id: str
    label: int | None  # 0/1/2 (imported qrels: any integer grade); None = skipped
    rater: str
    time: float  # unix seconds
    pool_depth: int | None  # the k of the pool it was judged in; None for thumbs / imports
    origin: Origin


@dataclass(frozen=True)
class Vote:
    query_id: str
    query: str
    model_a: str
    model_b: str
    left: Literal["A", "B"]  # which model was shown on the left
    winner: Winner  # as clicked: "left" / "right" / "tie" / "both_bad"
    rater: str
    time: float
    k: int

    @property
    def outcome(self) -> Literal["A", "B", "tie", "both_bad"]:
        """The click translated to models: "A" / "B" (the better model), "tie" or "both_bad"."""
        if self.winner == "left":
            return self.left
        if self.winner == "right":
            return "B" if self.left == "A" else "A"
        return self.winner


def _text(value: object, field: str, limit: int = MAX_NAME) -> str:
    """Every text the store keeps passes here: non-empty, within ``limit``, and cleaned as every reader cleans
    text (``clean_text``: a lone surrogate, which SQLite cannot encode, becomes U+FFFD)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} must be a non-empty text (got {value!r}).")
    value = _clean(value).strip()
    if len(value) > limit:
        raise ValueError(f"{field} is longer than {limit} characters; shorten it.")
    return value


def _shown(value: object) -> str:
    """A value for a message: a huge integer as its size, not its digits (str() refuses over 4300 digits)."""
    if isinstance(value, int) and abs(value) >= 10**30:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)


def _int_in(value: int, low: int, high: int, field: str) -> None:
    """Refuse an integer outside ``low..high``, naming the field and the range."""
    if not low <= value <= high:
        raise ValueError(f"{field} must be an integer from {low:,} to {high:,} (got {_shown(value)}).")


def _unix_time(t: object) -> float:
    """Unix seconds within what a CSV export can write (NaN and infinities fail the range test too)."""
    low, high = TIME_RANGE
    if isinstance(t, bool) or not isinstance(t, int | float) or not low <= t <= high:
        raise ValueError(f"time must be unix seconds from {low:,} to {high:,} (got {_shown(t)}).")
    return float(t)


def _check_origin(origin: object) -> None:
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)} (got {origin!r}).")


def _check_judgment(j: Judgment) -> Judgment:
    _check_origin(j.origin)
    label = j.label
    if label is not None:
        if isinstance(label, bool) or not isinstance(label, int):
            raise ValueError(f"label must be an integer or None for a skip (got {_shown(label)}).")
        if j.origin != "imported" and label not in LABELS:
            raise ValueError(f"label must be 0, 1 or 2 (or None for a skip), got {_shown(label)}.")
        _int_in(label, -MAX_GRADE, MAX_GRADE, "label (an imported grade)")
    depth = j.pool_depth
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValueError(f"pool_depth must be a positive integer or None (got {_shown(depth)}).")
    if depth is not None:
        _int_in(depth, 1, MAX_DEPTH_K, "pool_depth")
    when = _unix_time(j.time)
    query = _text(j.query, "query", MAX_TEXT)
    return Judgment(
        query_id=_text(j.query_id, "query_id"),
        query=query,
        chunk_id=_text(j.chunk_id, "chunk_id"),
        label=label,
        rater=_text(j.rater, "rater"),
        time=when,
        pool_depth=depth,
        origin=j.origin,
    )


def _check_vote(v: Vote) -> Vote:
    if v.left not in ("A", "B"):
        raise ValueError(f"left must be 'A' or 'B' (which model was shown on the left), got {v.left!r}.")
    if v.winner not in WINNERS:
        raise ValueError(f"winner must be one of {', '.join(WINNERS)} (got {v.winner!r}).")
    if isinstance(v.k, bool) or not isinstance(v.k, int) or v.k < 1:
        raise ValueError(f"k must be a positive integer (got {_shown(v.k)}).")
    _int_in(v.k, 1, MAX_DEPTH_K, "k (a vote's list length)")
    when = _unix_time(v.time)
    return Vote(
        query_id=_text(v.query_id, "query_id"),
        query=_text(v.query, "query", MAX_TEXT),
        model_a=_text(v.model_a, "model_a"),
        model_b=_text(v.model_b, "model_b"),
        left=v.left,
        winner=v.winner,
        rater=_text(v.rater, "rater"),
        time=when,
        k=v.k,
    )


def merge_labels(labels: Iterable[int]) -> int:
    """Several raters' labels of one pair -> one: the median, rounded down."""
    return math.floor(statistics.median(list(labels)))


class JudgmentStore:
    """Judgments and votes for one corpus in one SQLite file (see the module docstring for the semantics)."""

    def __init__(self, path: Path | str, corpus_sha256: str | None = None) -> None:
        self.path = Path(path).expanduser()
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"Judgment store path {self.path} is a folder; give a file path (….sqlite).")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(exc, self.path.parent) from exc
        meta = self._set_up(corpus_sha256)
        self.corpus_sha256: str | None = meta.get("corpus_sha256")
        if corpus_sha256 is not None and self.corpus_sha256 != corpus_sha256:
            raise StoreError(
                f"The judgment file {self.path} belongs to another corpus (sha256 {self.corpus_sha256}), "
                f"not this one ({corpus_sha256}). Its judgments name chunks of that corpus; open that corpus "
                "again, or use another file."
            )
        if meta.get("thumbs_ids") != THUMBS_IDS:
            self._key_thumbs_by_text()

    def _set_up(self, corpus_sha256: str | None) -> dict[str, str]:
        """WAL mode, the tables and the meta rows; returns the meta table. Sessions opening a new file at once
        can meet a lock SQLite reports at once, without waiting (a read upgraded to a write while another
        connection switches the file to WAL): that attempt is made again, up to BUSY_TIMEOUT_S in all."""
        deadline = _time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                with self._connect() as con:
                    con.execute("PRAGMA journal_mode=WAL")
                    con.executescript(_SCHEMA)
                    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
                    if "schema" not in meta:
                        con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                    if corpus_sha256 is not None:
                        con.execute(
                            "INSERT OR IGNORE INTO meta VALUES ('corpus_sha256', ?)", (corpus_sha256,)
                        )
                    return dict(con.execute("SELECT key, value FROM meta").fetchall())
            except StoreError as exc:
                busy = isinstance(exc.__cause__, sqlite3.OperationalError) and "locked" in str(exc.__cause__)
                if not busy or _time.monotonic() > deadline:
                    raise
                _time.sleep(0.05)

    def _key_thumbs_by_text(self) -> None:
        """Re-key thumbs rows saved under another id than their text's (a sample query's own id, q01 …, as
        earlier versions of the Compare page did), so old and new thumbs of one query are one history; once
        per file (marked in ``meta``)."""
        with self._connect() as con:
            found = con.execute(
                "SELECT DISTINCT query_id, query FROM judgments WHERE origin = 'thumbs'"
            ).fetchall()
            for old, text in found:
                new = _query_id(text)
                if new == old:
                    continue
                where = "origin = 'thumbs' AND query_id = ? AND query = ?"
                con.execute(f"UPDATE OR IGNORE judgments SET query_id = ? WHERE {where}", (new, old, text))
                # rows left under the old id were already there under the new one
                con.execute(f"DELETE FROM judgments WHERE {where}", (old, text))
            con.execute("INSERT OR REPLACE INTO meta VALUES ('thumbs_ids', ?)", (THUMBS_IDS,))

    @classmethod
    def for_corpus(cls, corpus_sha256: str, root: Path | str | None = None) -> JudgmentStore:
        """The store of one corpus: ``<root>/judgments/<corpus_sha256>.sqlite`` (the folder is created)."""
        if not isinstance(corpus_sha256, str) or not _SHA256.match(corpus_sha256):
            raise ValueError(f"corpus_sha256 must be 64 lowercase hex digits (got {corpus_sha256!r}).")
        base = Path(root).expanduser() if root is not None else default_root()
        return cls(base / "judgments" / f"{corpus_sha256}.sqlite", corpus_sha256)

    def __repr__(self) -> str:
        return f"JudgmentStore({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One short connection, committed on success (WAL + busy timeout: concurrent writers wait)."""
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as con:
                with con:
                    yield con
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"Cannot use the judgment store {self.path}: {exc}. If it is not a SQLite file (or is damaged), "
                "move it aside to start a fresh one, or restore it from a bundle."
            ) from exc
        except OSError as exc:
            raise _os_error(exc, self.path) from exc

    # -- judgments ---------------------------------------------------------------------------------

    def record(
        self,
        *,
        query: str,
        chunk_id: str,
        label: int | None,
        rater: str,
        origin: Origin,
        pool_depth: int | None = None,
        query_id: str | None = None,
    ) -> None:
        """Record one judgment now (label None = skipped). query_id defaults to ``query_id(query)`` (and is
        always that for thumbs)."""
        qid = query_id if query_id is not None else _query_id(query)  # of the cleaned text: see query_id
        j = Judgment(qid, query, chunk_id, label, rater, _time.time(), pool_depth, origin)
        self.add_judgments([j])

    def add_judgments(self, items: Iterable[Judgment]) -> int:
        """Add ready-made judgments (imports, bundles) in one transaction; rows already present are skipped.
        Thumbs are keyed by their text's id (``query_id(query)``) whatever id they came with.

        Returns the number of rows added. Raises ValueError naming the first bad item."""
        rows = []
        for i, j in enumerate(items):
            try:
                c = _check_judgment(j)
            except ValueError as exc:
                raise ValueError(f"Judgment {i + 1}: {exc}") from exc
            if c.origin == "thumbs":
                c = replace(c, query_id=_query_id(c.query))
            rows.append((c.query_id, c.query, c.chunk_id, c.label, c.rater, c.time, c.pool_depth, c.origin))
        with self._connect() as con:
            before = con.total_changes
            con.executemany(f"INSERT OR IGNORE INTO judgments ({_J_COLS}) VALUES (?,?,?,?,?,?,?,?)", rows)
            return con.total_changes - before

    def undo(self, rater: str, origin: Origin = "pooled") -> Judgment | None:
        """Remove that rater's most recent judgment (or skip) of this origin; return it, or None if none."""
        _check_origin(origin)
        with self._connect() as con:
            row = con.execute(
                f"SELECT id, {_J_COLS} FROM judgments WHERE rater = ? AND origin = ? "
                "ORDER BY time DESC, id DESC LIMIT 1",
                (_clean(rater).strip(), origin),  # the name as record() kept it
            ).fetchone()
            if row is None:
                return None
            con.execute("DELETE FROM judgments WHERE id = ?", (row[0],))
        return _judgment(row[1:])

    def judgments(self, origin: Origin | None = None) -> list[Judgment]:
        """Current judgments (latest per query, chunk, rater, origin), skips included, oldest first."""
        if origin is not None:
            _check_origin(origin)
        where, args = ("WHERE origin = ?", (origin,)) if origin is not None else ("", ())
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {_J_COLS} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY query_id, chunk_id, rater, "
                f"origin ORDER BY time DESC, id DESC) AS rn FROM judgments {where}) WHERE rn = 1 "
                "ORDER BY time, id",
                args,
            ).fetchall()
        return [_judgment(r) for r in rows]

    def history(self) -> list[Judgment]:
        """Every judgment row ever recorded (not undone), oldest first."""
        with self._connect() as con:
            rows = con.execute(f"SELECT {_J_COLS} FROM judgments ORDER BY time, id").fetchall()
        return [_judgment(r) for r in rows]

    def qrels(self, source: Source = "union") -> tuple[dict[str, str], dict[str, dict[str, int]]]:
        """(queries {query_id: text}, qrels {query_id: {chunk_id: label}}) from the chosen source.

        Skips excluded; several raters on a pair merged by the median rounded down; "union" takes pooled
        and imported labels where a pair has any, thumbs only where it has none, LLM labels only where no person
        labelled it; "human" is "union" without LLM labels; "llm" the LLM's labels alone."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)} (got {source!r}).")
        return qrels_from(self.judgments(), source)

    # -- votes -------------------------------------------------------------------------------------

    def record_vote(
        self,
        *,
        query: str,
        model_a: str,
        model_b: str,
        left: Literal["A", "B"],
        winner: Winner,
        rater: str,
        k: int,
        query_id: str | None = None,
    ) -> None:
        """Record one blind A/B vote now (``left``: which model was on the left; ``winner``: as clicked)."""
        qid = query_id if query_id is not None else _query_id(query)
        self.add_votes([Vote(qid, query, model_a, model_b, left, winner, rater, _time.time(), k)])

    def add_votes(self, items: Iterable[Vote]) -> int:
        """Add ready-made votes in one transaction, skipping rows already present; returns rows added."""
        rows = []
        for i, v in enumerate(items):
            try:
                c = _check_vote(v)
            except ValueError as exc:
                raise ValueError(f"Vote {i + 1}: {exc}") from exc
            rows.append((c.query_id, c.query, c.model_a, c.model_b, c.left, c.winner, c.rater, c.time, c.k))
        with self._connect() as con:
            before = con.total_changes
            con.executemany(f"INSERT OR IGNORE INTO votes ({_V_COLS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)
            return con.total_changes - before

    def votes(self) -> list[Vote]:
        """Every vote, oldest first (a rater may vote on a query again; each vote counts)."""
        with self._connect() as con:
            rows = con.execute(f"SELECT {_V_COLS} FROM votes ORDER BY time, id").fetchall()
        return [_vote(r) for r in rows]

    def undo_vote(self, rater: str) -> Vote | None:
        """Remove that rater's most recent vote; return it, or None if there is none."""
        with self._connect() as con:
            row = con.execute(
                f"SELECT id, {_V_COLS} FROM votes WHERE rater = ? ORDER BY time DESC, id DESC LIMIT 1",
                (_clean(rater).strip(),),  # the name as record_vote() kept it
            ).fetchone()
            if row is None:
                return None
            con.execute("DELETE FROM votes WHERE id = ?", (row[0],))
        return _vote(row[1:])

    # -- dump / load -------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything as JSON-serialisable data: {"format", "corpus_sha256", "judgments": [...], "votes": [...]}.

        Judgments are the full history (not only the current ones), so a load reproduces this store."""
        return {
            "format": DUMP_FORMAT,
            "corpus_sha256": self.corpus_sha256,
            "judgments": [asdict(j) for j in self.history()],
            "votes": [asdict(v) for v in self.votes()],
        }

    def load(self, dump: object) -> int:
        """Merge a ``dump()`` into this store (rows already present are skipped); returns rows added.

        Raises StoreError when the dump is malformed or was made for another corpus."""
        if (
            not isinstance(dump, dict)
            or not isinstance(dump.get("judgments", []), list)
            or not isinstance(dump.get("votes", []), list)
        ):
            raise StoreError("Judgments data must be an object with 'judgments' and 'votes' lists.")
        if dump.get("format", DUMP_FORMAT) != DUMP_FORMAT:
            raise StoreError(
                f"Judgments data has format {dump.get('format')!r}; this version reads format {DUMP_FORMAT}."
            )
        other = dump.get("corpus_sha256")
        if other is not None and self.corpus_sha256 is not None and other != self.corpus_sha256:
            raise StoreError(
                f"These judgments were made for another corpus (sha256 {other}), not this one "
                f"({self.corpus_sha256}); load them with that corpus."
            )
        try:
            judgments = [_judgment_from(d, i) for i, d in enumerate(dump.get("judgments", []))]
            votes = [_vote_from(d, i) for i, d in enumerate(dump.get("votes", []))]
            return self.add_judgments(judgments) + self.add_votes(votes)
        except ValueError as exc:
            raise StoreError(f"Judgments data is malformed: {exc}") from exc


def _os_error(exc: OSError, path: Path) -> StoreError:
    return StoreError(
        f"Cannot write the judgment store at {path}: {exc.strerror or exc}. Make that folder writable, or set "
        f"{ENV_VAR} to a writable folder (judgments are kept in its judgments/ subfolder)."
    )


_query_id = query_id  # record()'s keyword argument shadows the function name


def qrels_from(
    judgments: Iterable[Judgment], source: Source = "union"
) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """The qrels() merge rule applied to a list of current judgments (see the module docstring)."""
    queries: dict[str, str] = {}
    primary: dict[tuple[str, str], list[int]] = {}
    thumbs: dict[tuple[str, str], list[int]] = {}
    llm: dict[tuple[str, str], list[int]] = {}
    merged = source in ("union", "human")
    for j in judgments:
        if j.label is None:
            continue
        if merged:
            if j.origin == "llm" and source == "human":
                continue
            target = thumbs if j.origin == "thumbs" else llm if j.origin == "llm" else primary
        elif j.origin == source:
            target = primary
        else:
            continue
        target.setdefault((j.query_id, j.chunk_id), []).append(j.label)
        queries[j.query_id] = j.query
    for pair, labels in thumbs.items():
        primary.setdefault(pair, labels)
    for pair, labels in llm.items():  # a person's judgment of the pair always wins
        primary.setdefault(pair, labels)
    qrels: dict[str, dict[str, int]] = {}
    for (qid, cid), labels in sorted(primary.items()):
        qrels.setdefault(qid, {})[cid] = merge_labels(labels)
    return {q: queries[q] for q in qrels}, qrels


def _judgment(row: tuple) -> Judgment:
    qid, query, cid, label, rater, t, depth, origin = row
    return Judgment(qid, query, cid, label, rater, t, depth, cast(Origin, origin))


def _vote(row: tuple) -> Vote:
    qid, query, a, b, left, winner, rater, t, k = row
    return Vote(qid, query, a, b, left, winner, rater, t, k)


def _fields(d: object, names: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ValueError(f"{what} is not an object.")
    missing = [n for n in names if n not in d]
    if missing:
        raise ValueError(f"{what} lacks {', '.join(missing)}.")
    return {n: d[n] for n in names}


def _judgment_from(d: object, i: int) -> Judgment:
    return Judgment(**_fields(d, tuple(Judgment.__dataclass_fields__), f"judgment {i + 1}"))


def _vote_from(d: object, i: int) -> Vote:
    return Vote(**_fields(d, tuple(Vote.__dataclass_fields__), f"vote {i + 1}"))
