"""Matching what was said: full-text search on PostgreSQL, a plain LIKE on SQLite.

PostgreSQL matches with two text-search configurations, either of which may match: `simple`
(each word as typed, so names and stop words are found too) and `dutch` (stemmed: "gedeelde"
finds "gedeeld"). The expressions are those of the GIN indexes on message.body (see
TEXT_SEARCH_CONFIGURATIONS), or PostgreSQL would not use them. The query is read as a web
search: words, "a phrase", -without, or. SQLite has no stemming: every word must appear in the
message as typed, whatever its case (for letters without accents).
"""

import re

from sqlalchemy import ColumnElement, and_, func, literal_column, or_

from helpline.extensions import db
from helpline.inbox.models import TEXT_SEARCH_CONFIGURATIONS

EXCERPT_CHARS = 160
MAX_WORDS = 20


def said(body: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """A condition on a message body: it contains what `text` looks for."""
    if db.session.get_bind().dialect.name == "postgresql":
        return or_(*(_matches(body, text, name) for name in TEXT_SEARCH_CONFIGURATIONS))
    return and_(*(body.ilike(f"%{_escaped(word)}%", escape="\\") for word in words(text)))


def _matches(body: ColumnElement[str], text: str, configuration: str) -> ColumnElement[bool]:
    # A literal configuration (one of ours, never typed): the index matches a constant only.
    name = literal_column(f"'{configuration}'::regconfig")
    return func.to_tsvector(name, body).op("@@")(func.websearch_to_tsquery(name, text))


def words(text: str) -> list[str]:
    """The words a search looks for, without the quotes, "or" and -excluded words of the
    web-search syntax."""
    found = [
        word
        for word in re.split(r"[\s\"]+", text)
        if word and word.lower() != "or" and not (word.startswith("-") and len(word) > 1)
    ]
    return found[:MAX_WORDS] or [text.strip()]


def _escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def excerpt(body: str, text: str | None) -> str:
    """Part of a message, around the first word looked for that it contains (else its start)."""
    flat = " ".join(body.split())
    if len(flat) <= EXCERPT_CHARS:
        return flat
    at = _first_place(flat.casefold(), words(text)) if text else 0
    start = max(0, min(at - EXCERPT_CHARS // 3, len(flat) - EXCERPT_CHARS))
    cut = flat[start : start + EXCERPT_CHARS]
    return ("…" if start else "") + cut + ("…" if start + EXCERPT_CHARS < len(flat) else "")


def _first_place(haystack: str, looked_for: list[str]) -> int:
    # A stemmed match may not contain the word as typed: then its stem's start ("gedeel").
    for word in looked_for:
        for part in (word.casefold(), word.casefold()[: max(4, len(word) - 2)]):
            if (at := haystack.find(part)) >= 0:
                return at
    return 0
