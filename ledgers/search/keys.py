"""Search keys: what the GIN-indexed ``keys text[]`` column stores per field value, and
which of those keys a query needs.

Why n-grams rather than trigrams alone (measured in SEARCH_NOTES.md): Japanese search terms
are short. A surname is typically one or two kanji (田, 佐藤), and pg_trgm cannot extract a
trigram from one or two characters, so such queries fell back to 0.6 s scans. Unigrams and
bigrams make a 1-2 character query one or two exact keys (1-9 ms); anchored keys (``^``)
make a prefix query one key, where unigrams carry no position (157 ms); and the exact key
(``=``) answers "equals" with one key. Bigrams of a longer query only narrow the candidates,
so the caller ANDs them (``keys @> array[...]``) and rechecks against the stored normalised
text with ``recheck`` (done in SQL with ``strpos``/``starts_with``, never with an indexable
operator: planner pitfall 6).

Key formats, with ``name`` as the field prefix:

* ``name|山``, ``name|山田`` - unigrams and bigrams of the first 64 characters (no unigrams
  for digit fields: one digit matches nearly every phone number, so the index would not
  narrow such a query anyway, and a one-digit query is rechecked over the ledger instead;
  and in any field no unigram of a kana, a digit or a Latin letter, see
  ``NO_UNIGRAM_CHARACTERS``);
* ``name|^山`` - the first character (a prefix query of two or more characters needs it
  and the query's bigrams);
* ``name|=山田花子`` - the whole value (hashed when long, see ``exact_key``);
* an n-gram starting with ``^``, ``=`` or ``\\`` is escaped with ``\\`` so that it cannot be
  mistaken for an anchored or exact key.

Stored form: the index holds each key as a 32-bit integer (``stored_key``: CRC-32 of its
UTF-8 text, shifted to a signed ``integer``), not as text. A GIN index of integers is about
half the work to maintain (measured: 57 against 86-115 µs per record of ~115 keys) and
smaller to search; two keys sharing a hash only add candidates, which the recheck drops.

Key counts stay bounded: a value longer than 64 normalised characters contributes the
n-grams of its first 64 characters only (plus its exact key). Addresses and free text are
therefore found by their start, by substrings within their first 64 characters, and by
their whole value; a substring further in is not found.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from itertools import repeat
from typing import Literal, get_args

Match = Literal["exact", "prefix", "contains"]
MATCHES: tuple[Match, ...] = get_args(Match)

#: Only the first this many normalised characters produce n-grams.
MAX_NGRAM_CHARS = 64
#: Longer values get a hashed exact key: a GIN entry must stay well below its ~2.7 kB
#: limit, and long free text would only bloat the index.
MAX_EXACT_KEY_CHARS = 128

_ESCAPED_STARTS = ("^", "=", "\\")

#: Characters that are never a unigram key, in any field: a kana (hiragana, katakana,
#: the long-vowel and iteration marks), an ASCII digit or Latin letter alone matches a
#: large share of any ledger's names and texts (ヤ, ン, 1), so its key would not narrow a
#: query; a one-character query of one is answered by the recheck over the rows the other
#: conditions leave or the ledger's, as an address's characters are. Kanji keep theirs: a
#: one-kanji surname (林, 森) is a real query, and one kanji narrows well. Their bigrams
#: stay, so every query of two or more characters is keyed as before. Measured on the
#: records bench: 71 → 61 keys per record.
NO_UNIGRAM_CHARACTERS = frozenset(
    [chr(code) for code in range(0x3041, 0x3100)]  # hiragana and katakana blocks
    + [chr(code) for code in range(0x31F0, 0x3200)]  # katakana phonetic extensions
    + list("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
)


def _check_prefix(prefix: str) -> None:
    if not prefix or "|" in prefix:
        raise ValueError(f"invalid search-key prefix {prefix!r}: non-empty, without '|'")


def _gram_key(prefix: str, gram: str) -> str:
    """``name|山田``; an n-gram that starts like a marker is escaped (``name|\\^山``)."""
    return f"{prefix}|\\{gram}" if gram.startswith(_ESCAPED_STARTS) else f"{prefix}|{gram}"


def _anchored_key(prefix: str, start: str) -> str:
    return f"{prefix}|^{start}"


def exact_key(prefix: str, normalised: str) -> str:
    """``name|=山田花子``; a value over 128 characters is keyed by its SHA-256 instead
    (``name|=#<hex>``), which the recheck then confirms."""
    _check_prefix(prefix)
    if len(normalised) > MAX_EXACT_KEY_CHARS:
        digest = hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{prefix}|=#{digest}"
    return f"{prefix}|={normalised}"


def _grams(text: str, size: int) -> set[str]:
    return {text[index : index + size] for index in range(len(text) - size + 1)}


def ngram_keys(prefix: str, normalised: str, *, unigrams: bool = True) -> list[str]:
    """Every key a normalised field value is indexed under, deduplicated and sorted
    (``unigrams``: whether single characters are keys, see the module's doc)."""
    _check_prefix(prefix)
    if not normalised:
        return []
    head = normalised[:MAX_NGRAM_CHARS]
    grams = _grams(head, 2)
    if unigrams:
        grams |= _grams(head, 1) - NO_UNIGRAM_CHARACTERS
    keys = {_gram_key(prefix, gram) for gram in grams}
    keys.add(_anchored_key(prefix, head[0]))
    keys.add(exact_key(prefix, normalised))
    return sorted(keys)


def query_keys(
    prefix: str, normalised_query: str, match: Match, *, unigrams: bool = True
) -> list[str]:
    """The keys a matching value must have (the caller ANDs them, then rechecks).

    exact: the exact key; prefix: the anchored key of the first character and the query's
    bigrams; contains: the bigrams of the query, or its unigram when it is one character.
    No keys (an empty list) when the index cannot narrow the query: a one-character
    "contains" where values have no unigram keys; the caller then rechecks alone.
    """
    _check_prefix(prefix)
    if not normalised_query:
        raise ValueError("an empty query matches every value: leave the condition out instead")
    if match == "exact":
        return [exact_key(prefix, normalised_query)]
    if match == "prefix":
        head = normalised_query[:MAX_NGRAM_CHARS]
        bigrams = {_gram_key(prefix, gram) for gram in _grams(head, 2)}
        return sorted({_anchored_key(prefix, normalised_query[0]), *bigrams})
    if match == "contains":
        if len(normalised_query) == 1:
            if not unigrams or normalised_query in NO_UNIGRAM_CHARACTERS:
                return []
            return [_gram_key(prefix, normalised_query)]
        return sorted({_gram_key(prefix, gram) for gram in _grams(normalised_query, 2)})
    raise ValueError(f"unknown match {match!r}: expected one of {MATCHES}")


def key_prefix(ledger_id: int, path: str) -> str:
    """The prefix of a field's keys in one ledger (``12:name``, ``12:offenders.name``).

    Keys are per ledger: a city keeps many ledgers with fields named alike (氏名 in every
    one of them), and a search in one ledger must not walk the others' entries."""
    return f"{ledger_id}:{path}"


def disclosure_key(ledger_id: int, path: str, department: str) -> int:
    """The stored key of a record whose department flags at ``path`` say 可 for
    ``department``: the access layer finds a department's records through the same GIN
    index as search (``LedgerPolicy.record_filter``, which rechecks the flag itself).
    No query produces it: a path never holds ``#``, and search keys follow the path with
    a gram, ``^`` or ``=``."""
    return stored_key(f"{key_prefix(ledger_id, path)}#{department}")


def stored_key(key: str) -> int:
    """The integer a key is stored and queried as (CRC-32, signed to fit ``integer``)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) - 0x80000000


def stored_keys(keys: Iterable[str]) -> list[int]:
    """Distinct stored keys, sorted."""
    return sorted({stored_key(key) for key in keys})


def _utf8_chars(text: str) -> list[bytes] | None:
    """Each character's UTF-8 bytes, or ``None`` when the text needs ``ngram_keys``' care
    (a character that is escaped in keys, a lone surrogate)."""
    if any(start in text for start in _ESCAPED_STARTS):
        return None
    try:
        return list(map(str.encode, text))
    except UnicodeEncodeError:
        return None


def ngram_stored_keys(prefix: str, normalised: str, *, unigrams: bool = True) -> list[int]:
    """``stored_keys(ngram_keys(prefix, normalised, unigrams=...))``, computed without
    building the key texts: the CRC of ``prefix|`` is taken once and continued over each
    character's bytes, and a bigram's CRC continues its first character's (CRC-32 of a
    concatenation is the CRC of the first part continued over the second). Indexing is
    most of a bulk write's Python time, so this is the path records take."""
    _check_prefix(prefix)
    if not normalised:
        return []
    head = normalised[:MAX_NGRAM_CHARS]
    chars = _utf8_chars(head)
    if chars is None:  # escaped n-grams or lone surrogates: the long way
        return stored_keys(ngram_keys(prefix, normalised, unigrams=unigrams))
    crc = zlib.crc32
    singles = list(map(crc, chars, repeat(crc(f"{prefix}|".encode()), len(chars))))
    keys = set(map(crc, chars[1:], singles))
    if unigrams:
        keys.update(
            single
            for single, char in zip(singles, head, strict=True)
            if char not in NO_UNIGRAM_CHARACTERS
        )
    keys.add(crc(chars[0], crc(f"{prefix}|^".encode())))
    keys.add(crc(exact_key(prefix, normalised).encode("utf-8", "surrogatepass")))
    return sorted([key - 0x80000000 for key in keys])


def recheck(normalised_value: str, normalised_query: str, match: Match) -> bool:
    """Whether the stored normalised value really matches (the keys only narrow)."""
    if match == "exact":
        return normalised_value == normalised_query
    if match == "prefix":
        return normalised_value.startswith(normalised_query)
    if match == "contains":
        return normalised_query in normalised_value
    raise ValueError(f"unknown match {match!r}: expected one of {MATCHES}")
