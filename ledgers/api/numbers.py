"""A number a client writes as text, read by one rule (no DRF here: the authentication
class's module imports it while DRF's settings load)."""

from __future__ import annotations


def ascii_whole_number(text: str) -> int | None:
    """``text`` as a whole number when it is 1 to 18 ASCII digits, else ``None``: the one
    rule for a number a client writes as text (``If-Match``, a diff's ``from``/``to``, a
    body's digit string, a cursor's position). ``int()`` reads ``1_0`` as 10 and `` 1``,
    ``+1`` and ``１`` as 1; ``"²"`` is a digit to ``isdigit`` but not to ``int``; past 4,300
    digits ``int()`` refuses the text (a server error); a generation fits 64 bits."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)
