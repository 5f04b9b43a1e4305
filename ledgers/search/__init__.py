"""Japanese search: one normalisation for indexing and querying, and the index keys.

``normalize`` folds what staff type (widths, kana, small kana, letters of one sound,
long-vowel and iteration marks, spaces, old/variant kanji, particles between kanji, an
address's 大字 and numbering, 和暦 date queries) into one form; ``keys`` turns a
normalised field value into the ``text[]`` keys the GIN index stores and a query into the
keys it must contain (see /work/shared/SEARCH_NOTES.md for the measurements behind it).
"""

from __future__ import annotations

from ledgers.search.keys import (
    MATCHES,
    MAX_NGRAM_CHARS,
    Match,
    exact_key,
    ngram_keys,
    query_keys,
    recheck,
)
from ledgers.search.normalize import (
    address_forms,
    name_forms,
    normalize_address,
    normalize_digits,
    normalize_name,
    normalize_text,
    parse_date_query,
    text_forms,
    variant_table,
)

__all__ = [
    "MATCHES",
    "MAX_NGRAM_CHARS",
    "Match",
    "address_forms",
    "exact_key",
    "name_forms",
    "ngram_keys",
    "normalize_address",
    "normalize_digits",
    "normalize_name",
    "normalize_text",
    "parse_date_query",
    "query_keys",
    "recheck",
    "text_forms",
    "variant_table",
]
