"""Version tags (the API's ETags) of the administrative documents: a ledger's definition,
its grants, a department, a staff member.

A record's tag is its generation. These documents have no number that moves with every
change of what is answered for them: a ledger's ``definition_version`` stays when its name
changes, and neither a ledger's grants nor a department nor an account has one. Their tag
is a digest of what the answer is made of: it changes whenever the answer does, whoever
made the change (the API, the web UI, a management command), with no column to keep in
step. The services compare the caller's tags with it under the lock they write under
(``tag_require``): of two writers sent with one tag, the second finds the first's change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from typing import Any

import orjson

from ledgers.exceptions import VersionConflict


def content_tag(state: Any) -> str:
    """32 hex digits of the SHA-256 of ``state`` as canonical JSON (keys sorted)."""
    try:
        canonical = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # what orjson refuses (an integer past 64 bits in a definition)
        canonical = json.dumps(state, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:32]


def tag_require(expected: Collection[str] | None, current: str, *, document: str) -> None:
    """Refuse (``VersionConflict``, 412) a write whose caller read another version of the
    document than ``current``; ``expected`` None is a write without a precondition."""
    if expected is not None and current not in expected:
        raise VersionConflict(document, current=current)
