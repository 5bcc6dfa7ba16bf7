"""Searching every message: SQLite FTS5 (the messages_fts index of migration 0005),
ranked by bm25, with the matched words marked in a snippet. The user's text is one FTS5
phrase (quotes doubled, so no operator or quote can break the query), its last word a
prefix: "budget for q3" finds "…the Budget for Q3 2025…" and "budget for q3-q4".

FTS5 matches words and word beginnings; LIKE, the fallback, matches any substring. LIKE
is used when this SQLite has no FTS5 (the index was never made), when the text has no
letter or digit (nothing for FTS5 to match), and when it holds a script written without
spaces (Chinese, Japanese, Korean, Thai…), whose words unicode61 cannot separate."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import text as sql

from desktop_app.core.app_records import SearchHit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session as OrmSession

FTS_TABLE = "messages_fts"
SNIPPET_TOKENS = 16  # words around the match in a snippet
# snippet()'s markers are drawn anew for each search: any fixed text could be in a
# message (an imported one may hold \x02 and \x03) and would then be read as a match
_MARKER_BYTES = 6
_WORD = re.compile(r"[^\W_]")
# scripts written without spaces between words
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)


def fts_query(text: str) -> str | None:
    """`text` as one FTS5 phrase with a prefix last word, or None when FTS5 cannot
    search for it (see the module's note)."""
    text = text.replace("\x00", " ")  # FTS5 reads a query up to its first NUL
    if not _WORD.search(text) or _UNSPACED.search(text):
        return None
    return '"' + text.replace('"', '""') + '" *'


def has_index(orm: OrmSession) -> bool:
    found = orm.execute(sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"),
                        {"n": FTS_TABLE}).first()
    return found is not None


def markers() -> tuple[str, str]:
    """A pair of snippet markers no message can hold: the same private-use characters
    around a random number."""
    import secrets

    key = secrets.token_hex(_MARKER_BYTES)
    return f"\ue000{key}\ue001", f"\ue002{key}\ue003"


def marked(snippet: str, open_: str, close: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A snippet with the markers taken out and its whitespace collapsed, and the
    (start, end) ranges the markers enclosed."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    start = None
    space = False
    # the markers as single characters no text around them holds here: the snippet's
    # own \x02 and \x03 are spaces by now
    snippet = snippet.replace("\x02", " ").replace("\x03", " ")
    snippet = snippet.replace(open_, "\x02").replace(close, "\x03")
    for ch in snippet:
        if ch == "\x02":
            if space and out:
                out.append(" ")
                length += 1
            space = False
            start = length
        elif ch == "\x03":
            if start is not None:
                spans.append((start, length))
            start = None
        elif ch.isspace():
            space = True
        else:
            if space and out:
                out.append(" ")
                length += 1
            space = False
            out.append(ch)
            length += 1
    return "".join(out), tuple(spans)


def snippet_tokens(query: str) -> int:
    """Words in a snippet: SNIPPET_TOKENS around the match, more for a long phrase (a
    match longer than the snippet would be shown without its highlight), at most 64,
    FTS5's limit."""
    return max(SNIPPET_TOKENS, min(64, len(re.findall(r"\w+", query)) + 8))


def search_fts(orm: OrmSession, query: str, limit: int) -> list[SearchHit]:
    """The best `limit` messages matching the FTS5 `query`, best first, in sessions that
    are not deleted."""
    open_, close = markers()
    rows = orm.execute(sql(
        f"SELECT m.session_id, s.title, m.id, m.position, m.role, m.created_at, "
        f"snippet({FTS_TABLE}, 0, :open, :close, '…', :tokens) "
        f"FROM {FTS_TABLE} JOIN messages AS m ON m.id = {FTS_TABLE}.rowid "
        f"JOIN sessions AS s ON s.id = m.session_id "
        f"WHERE {FTS_TABLE} MATCH :query AND s.deleted_at IS NULL "
        f"ORDER BY {FTS_TABLE}.rank LIMIT :limit"),
        {"open": open_, "close": close, "tokens": snippet_tokens(query), "query": query,
         "limit": limit})
    hits = []
    for sid, title, mid, position, role, created, snippet in rows:
        text, spans = marked(snippet or "", open_, close)
        when = datetime.fromisoformat(created) if created else None
        hits.append(SearchHit(sid, title, mid, position, role, text, when, spans))
    return hits
