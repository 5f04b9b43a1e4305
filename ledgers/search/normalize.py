"""The one normalisation that search keys are built with, at indexing and at query time.

Stored values keep what staff wrote (髙 and 﨑 survive in the record); only the search form
is folded, so that ﾔﾏﾀﾞ, やまだ and ヤマダ, 佐々木 and 佐佐木, 髙橋 and 高橋, オーノ and オオノ,
ヴァ and バ meet. Every fold is idempotent (normalising twice changes nothing) because
indexing and querying must agree even when a query is typed in an already normalised form.
The folds that change a letter by its neighbour come last, and a stored value is also
indexed as it was before them (``name_forms``): a query is only ever the search form.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from importlib import resources

from ledgers.fields.exceptions import WarekiError
from ledgers.fields.normalize import (
    BIDI_CONTROLS,
    HYPHENS,
    INVISIBLES,
    code_points,
    nfkc,
    to_katakana,
)
from ledgers.fields.numbers import kanji_number

# ``prepare_date_text`` is the date-field's own reading of full-width digits, dashes and kanji
# numerals (昭和六十年); reused so that a year or month query reads exactly like a date.
from ledgers.fields.wareki import (
    ERAS,
    Era,
    check_era_year,
    era_year_label,
    format_date,
    format_western,
    parse_date,
    parse_era_decade,
    prepare_date_text,
)

VARIANTS_RESOURCE = "variants.tsv"

# Invisible characters that only select a glyph or join/split words: IVS/SVS variation
# selectors (辻 + U+E0100 is still 辻), and every character stored text may not hold for
# being invisible or reordering the text around it (``ledgers.fields.normalize``: zero
# widths, the BOM, bidirectional controls …): a query pasted with one finds what it shows.
_VARIATION_SELECTORS = [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
_INVISIBLES = code_points(BIDI_CONTROLS + INVISIBLES)
# Middle dots between the parts of a name (ジョン・スミス): 「・」, half-width 「･」 (NFKC
# makes it 「・」), the Latin middle dot and the hyphenation point; and the double hyphen
# 「゠」, written between the parts of a foreign name as often as the dot (マリア゠サントス).
_MIDDLE_DOTS = "・·‧゠"
# Whitespace of every width (all of it lies below U+3001; NFKC has made U+3000 a space).
_WHITESPACE = [code for code in range(0x3001) if chr(code).isspace()]
_REMOVE = frozenset([*_VARIATION_SELECTORS, *_INVISIBLES, *map(ord, _MIDDLE_DOTS), *_WHITESPACE])

# Small kana (after hiragana became katakana) to their large forms, including the small
# katakana used for Ainu (ㇰ … ㇿ).
_SMALL_KANA = str.maketrans(
    "ァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ",
    "アイウエオツヤユヨワカケクシストヌハヒフヘホムラリルレロ",
)

_KATAKANA = "\u30a1-\u30fa"  # ァ … ヺ (the letters, not ー・ヽヾ)
_KANJI = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KANJI_RE = re.compile(f"[{_KANJI}]")
_KANA_LETTER_RE = re.compile(f"[{_KATAKANA}]")
# The equals sign between two kana is that double hyphen typed (マリア＝サントス; NFKC makes
# 「＝」 "="): dropped as the dot is. Elsewhere (a mail address, a note) it is kept.
_KANA_EQUALS_RE = re.compile(f"(?<=[{_KATAKANA}ー])=+(?=[{_KATAKANA}])")
_ITERATION_MARKS = "々〻ヽヾ"
_VOICED_MARK = "\u3099"

# Letters that spell one sound today (四つ仮名 and 旧仮名): ヂ and ジ, ヅ and ズ, ヰ and イ,
# ヱ and エ, ヲ and オ (カヲル = カオル, 薫's older spelling); the voiced ワ row (ヷ ヸ ヹ ヺ, that is
# ヴァ ヴィ ヴェ ヴォ) is the バ row. Folded after the marks have recombined (ッ゛ → ヅ,
# チヾ → ヂ), however the letter came to be written.
_SAME_SOUND = str.maketrans("ヂヅヰヱヲヷヸヹヺ", "ジズイエオバビベボ")
_MARKS = ("\u3099", "\u309a")
# Whether a value holds one of them, or a mark: one search where a translate costs 0.3-0.9 µs.
_RARE_RE = re.compile(f"[{''.join(_MARKS)}ヂヅヰヱヲヷヸヹヺ]")

# Dashes and waves typed as the long-vowel mark after kana (ラーメン, ﾗｰﾒﾝ, ラ−メン, ラ～メン).
# After a kana the mark is the vowel it lengthens, spelt as readings spell it: ア, イ and ウ
# after their rows, イ after the エ row (ケーコ = ケイコ) and ウ after the オ row (サトー =
# サトウ, オーノ = オウノ), as 現代仮名遣い spells a long e and o. After ン or a mark it stays ー.
_WAVES = "~〜∼⁓"
_LENGTHENERS = HYPHENS + _WAVES
_LONG_VOWEL_RE = re.compile(f"(?<=[{_KATAKANA}ー])[{re.escape(_LENGTHENERS)}]+")
_A_ROW = "アカガサザタダナハバパマヤラワヷ"
_I_ROW = "イキギシジチヂニヒビピミリヰヸ"
_U_ROW = "ウクグスズツヅヌフブプムユルヴ"
_E_ROW = "エケゲセゼテデネヘベペメレヱヹ"
_O_ROW = "オコゴソゾトドノホボポモヨロヲヺ"
_LONG_VOWEL = {
    **dict.fromkeys(_A_ROW, "ア"),
    **dict.fromkeys(_I_ROW, "イ"),
    **dict.fromkeys(_U_ROW, "ウ"),
    **dict.fromkeys(_E_ROW, "イ"),
    **dict.fromkeys(_O_ROW, "ウ"),
}

# Folds that change a letter by its neighbour (``_fold_letters``): the stored side also keeps
# the value without them, since the neighbour may end another word (see ``name_forms``).
# ヴ with the vowel after it is the バ row (ヴァ = バ, ヴィ = ビ, ヴェ = ベ, ヴォ = ボ, ヴュ =
# ビュ), ヴ alone ブ.
_VU_RE = re.compile("ヴ([アイエオヤユヨ]?)")
_VU = {
    "ア": "バ",
    "イ": "ビ",
    "エ": "ベ",
    "オ": "ボ",
    "ヤ": "ビヤ",
    "ユ": "ビユ",
    "ヨ": "ビヨ",
    "": "ブ",
}
# A long o and e spelt with the vowel letter: オ after the オ row is ウ (オオノ = オウノ = オーノ,
# トオル = トウル), エ after the エ row イ (ネエ = ネイ = ネー).
_VOWEL_LETTER_RE = re.compile(f"(?<=[{_O_ROW}])オ|(?<=[{_E_ROW}])エ")
# 之, 乃, ノ and の between two kanji are one particle (丸之内 = 丸ノ内 = 丸の内, 一之瀬 = 一乃瀬
# = 一ノ瀬, 龍之介 = 龍ノ介): after the kana folds の is ノ, and 之 and 乃 become ノ.
_PARTICLE_NO_RE = re.compile(f"(?<=[{_KANJI}])[之乃](?=[{_KANJI}])")
# 大字 and 字 before the name of a district in an address (大字上連雀 = 上連雀, 字安里 = 安里):
# 大字 wherever it is, 字 when a name (a kanji or kana) follows it.
_AZA_RE = re.compile(f"大字|字(?=[{_KANJI}{_KATAKANA}])")
# Dashes after a digit in addresses (3丁目1ー2, 1−2−3) are the ASCII hyphen.
_DIGIT_DASH_RE = re.compile(f"(?<=[0-9])[{re.escape(HYPHENS)}]+")
# ケ, ヶ, が and ガ between two kanji are one particle in place names and surnames
# (霞ケ関, 霞ヶ関, 霞が関; 自由が丘, 自由ヶ丘): after the kana folds it is ケ or ガ, and ガ
# becomes ケ. So are 箇 and 个, which ヶ abbreviates, and ヵ (カ once small kana are large),
# written for it (霞个関, 三ヵ月). Only between kanji, so that ガーデン in 三鷹ガーデン stays a
# word. A fold never makes a kanji, so a second pass finds nothing more to fold.
_PARTICLE_KE = "ガカ个箇"
_PARTICLE_GA_RE = re.compile(f"(?<=[{_KANJI}])[{_PARTICLE_KE}](?=[{_KANJI}])")

# Address numbering (住居表示・地番): 三丁目 and 3丁目, 3丁目1番2号 and 3-1-2, 1番地の2 and 1-2
# are one address. Kanji numerals before 丁目・番地・番・号 (or after 番地の) become digits;
# after a digit, 丁目 is "-", 番地・番 are "-" before a digit and dropped otherwise (四番町
# keeps its 番 before 町), 番地の・番の・の between digits are "-", 号 is dropped.
# A 本籍 is written in the 戸籍's style, 八番地七: a numeral right after 番地 is a digit too,
# unless a kanji follows it (123番地三鷹ハイツ keeps its 三鷹). Hokkaido's 条 and 線 and
# Iwate's 地割 are numbered like 丁目 (北三条西四丁目 = 北3条西4丁目, 第一地割 = 第1地割), but
# keep their word: the digits before them are no part of a 丁目-番-号 run.
_KANJI_DIGITS = "〇一二三四五六七八九"
_KANJI_NUMERAL = f"[{_KANJI_DIGITS}十百千]+"
# A numeral before a unit is matched from the start of its run only (the lookbehind): the
# run ends where it ends whichever character it starts from, so a later start never
# matched, but each one scanned the run again, and 20,000 numerals with no unit after them
# cost 3.6 s per stored text.
_KANJI_NUMBER_RE = re.compile(
    f"(?<![{_KANJI_DIGITS}十百千]){_KANJI_NUMERAL}(?=丁目|番|号|条|線|地割)"
    f"|(?<=番地ノ){_KANJI_NUMERAL}"
    f"|(?<=番ノ){_KANJI_NUMERAL}|(?<=番地){_KANJI_NUMERAL}(?![{_KANJI}])"
)
_ADDRESS_UNIT_RE = re.compile(
    "(?<=[0-9])(?:(?P<dash>丁目|(?:番地|番)ノ?(?=[0-9])|[ノ号](?=[0-9]))"
    "|番地(?![0-9町目])|番(?![0-9町目])|号)"
)
_DASH_RUN_RE = re.compile("(?<=[0-9])-{2,}")
#: A text holding none of these has no numbering to rewrite (one scan each, the usual case).
_NUMBERED_UNITS = ("丁", "番", "号", "ノ", "条", "線", "地割")
_OTHER_DASH_RE = re.compile(f"[{re.escape(HYPHENS.replace('-', ''))}]")


def parse_variants(text: str, *, source: str = VARIANTS_RESOURCE) -> dict[str, str]:
    """Read ``variant<TAB>standard<TAB>source`` lines (``#`` starts a comment line).

    The table is checked as it is read, so that a bad data change fails loudly rather than
    folding silently wrong: every entry must be reachable (the variant survives NFKC and
    has no variation selector), consistent, flat (no standard is itself a variant) and
    cited.
    """
    table: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [part.strip() for part in line.split("\t")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{source}:{number}: expected variant<TAB>standard<TAB>source")
        variant, standard, _citation = parts
        for chars in (variant, standard):
            if nfkc(chars) != chars or any(ord(char) in _REMOVE for char in chars):
                raise ValueError(
                    f"{source}:{number}: {chars!r} changes under NFKC or contains a character"
                    " that normalisation removes (variation selector, space), so it would"
                    " never be seen"
                )
        if variant == standard or table.get(variant, standard) != standard:
            raise ValueError(f"{source}:{number}: conflicting entry for {variant!r}")
        table[variant] = standard
    if chained := sorted(set(table) & set(table.values())):
        raise ValueError(f"{source}: standards that are also variants: {chained}")
    return table


@lru_cache(maxsize=1)
def variant_table() -> dict[str, str]:
    """Variant kanji → standard form, read once from ``data/variants.tsv``."""
    data = resources.files("ledgers.search").joinpath("data", VARIANTS_RESOURCE)
    return parse_variants(data.read_text(encoding="utf-8"))


def variant_folder(table: dict[str, str]) -> Callable[[str], str]:
    """A function folding ``table``'s variants: ``str.translate`` for one-code-point
    variants (𠮷 is one code point in Python), then a pattern, longest first, for variants
    written with several code points."""
    single = {ord(variant): standard for variant, standard in table.items() if len(variant) == 1}
    multi = sorted((variant for variant in table if len(variant) > 1), key=len, reverse=True)
    if not multi:
        return lambda text: text.translate(single)
    pattern = re.compile("|".join(map(re.escape, multi)))
    return lambda text: pattern.sub(lambda match: table[match.group()], text).translate(single)


@lru_cache(maxsize=1)
def _variant_folder() -> Callable[[str], str]:
    return variant_folder(variant_table())


def fold_variants(text: str) -> str:
    """Old and variant kanji (髙, 﨑, 邊, 齋 …) become their standard form."""
    return _variant_folder()(text)


def _katakana_folds() -> dict[int, str]:
    """Hiragana → katakana exactly as ``to_katakana`` converts them (ゝ → ヽ included),
    precomputed so that one ``str.translate`` replaces a per-character loop."""
    folds: dict[int, str] = {}
    for code in range(0x3041, 0x30A0):  # the hiragana block
        char = chr(code)
        if nfkc(char) == char and (katakana := to_katakana(char)) != char:
            folds[code] = katakana
    return folds


@lru_cache(maxsize=1)
def _character_folds() -> tuple[dict[int, str | None], Callable[[str], str] | None]:
    """One translate table for every one-character fold, and a folder for variants written
    with several code points (None when the table has none).

    Each entry holds the result of the folds applied in order (removal; hiragana →
    katakana; small → large; variant → standard), so one pass equals the sequence of
    passes; the speed matters when a whole ledger is re-indexed.
    """
    table = variant_table()
    single = {ord(variant): standard for variant, standard in table.items() if len(variant) == 1}
    kana = {code: chr(large) for code, large in _SMALL_KANA.items()}
    kana |= {code: katakana.translate(_SMALL_KANA) for code, katakana in _katakana_folds().items()}
    folds: dict[int, str | None] = {code: text.translate(single) for code, text in kana.items()}
    folds |= single
    folds |= dict.fromkeys(_REMOVE)
    multi = {variant: standard for variant, standard in table.items() if len(variant) > 1}
    return folds, variant_folder(multi) if multi else None


def _unvoiced(kana: str) -> str:
    """ガ → カ, パ → ハ: the kana without its (semi-)voiced mark."""
    return unicodedata.normalize("NFD", kana)[0]


def _voiced(kana: str) -> str:
    """カ → ガ, ハ → バ; a kana that has no voiced form repeats unvoiced."""
    voiced = unicodedata.normalize("NFC", _unvoiced(kana) + _VOICED_MARK)
    return voiced if len(voiced) == 1 else _unvoiced(kana)


def expand_iteration_marks(text: str) -> str:
    """佐々木 → 佐佐木, いすゞ → イスズ: 々 repeats the kanji before it, ヽ/ヾ the kana before
    it (unvoiced/voiced). A mark with nothing to repeat is kept as it is."""
    if not any(mark in text for mark in _ITERATION_MARKS):
        return text
    out: list[str] = []
    letter = ""  # the last character that is not a long-vowel mark or a dash
    for char in text:
        previous = out[-1] if out else ""
        if previous and previous in _LENGTHENERS and (previous == "ー" or _is_kana(letter)):
            # After the long-vowel mark, or a dash or wave typed for it after a kana, the
            # vowel it lengthens (クーヾ is クーヴ, ア-ゝ is アーア), as once the mark is that
            # vowel (クウヾ).
            previous = _LONG_VOWEL.get(letter, "ー")
        if char in "々〻" and _KANJI_RE.fullmatch(previous):
            char = previous
        elif char in "ヽヾ" and _is_kana(previous):
            char = _unvoiced(previous) if char == "ヽ" else _voiced(previous)
        out.append(char)
        if char not in _LENGTHENERS:
            letter = char
    return "".join(out)


def _is_kana(char: str) -> bool:
    return _KANA_LETTER_RE.fullmatch(char) is not None


def _long_vowel(match: re.Match[str]) -> str:
    vowel = _LONG_VOWEL.get(match.string[match.start() - 1], "ー")
    return vowel * (match.end() - match.start())


def _fold(text: str) -> str:
    """The folds shared by names and free text that look at no neighbouring letter (but the
    long-vowel mark's, which never starts a word); the order matters for idempotence.

    NFKC first (widths, ｶﾞ → ガ, compatibility ideographs); then what NFKC leaves, in one
    translate pass: invisibles, spaces and dots, hiragana, small kana, variant kanji; then
    case, and variants of several code points if the table has any. A second NFKC
    recombines marks that a removed space kept apart (か゛ becomes "か", " ", U+3099 under
    NFKC) or that now follow a large kana (ッ + U+3099 → ツ + U+3099 → ヅ). Iteration marks
    are expanded after that, then NFC recombines a mark that followed an expanded ヽ, and
    letters of one sound meet (ヅ = ズ); long-vowel marks come last because they look at
    the kana before them.
    """
    folds, fold_multi = _character_folds()
    text = nfkc(text).translate(folds).lower()
    text = nfkc(fold_multi(text) if fold_multi else text)
    if "=" in text:
        text = _KANA_EQUALS_RE.sub("", text)
    text = unicodedata.normalize("NFC", expand_iteration_marks(text))
    if _RARE_RE.search(text):
        if _MARKS[0] in text or _MARKS[1] in text:
            # A (semi-)voiced mark that joined no letter (after ー, ン, a kanji) voices
            # nothing, and the letters around it would meet once it is gone (ア゛ヽ is アア;
            # ホー゛ would be ホヴ once ー is ウ): dropped, and the value normalised again.
            return _fold(text.replace(_MARKS[0], "").replace(_MARKS[1], ""))
        text = text.translate(_SAME_SOUND)
    if any(particle in text for particle in _PARTICLE_KE):
        text = _PARTICLE_GA_RE.sub("ケ", text)
    return _LONG_VOWEL_RE.sub(_long_vowel, text)


def _fold_letters(text: str) -> str:
    """The folds that change a letter by its neighbour (ヴァ → バ, オオ → オウ, 丸之内 →
    丸ノ内), last, on an otherwise normalised value; idempotent, and a piece of its result
    is its own result (no letter it leaves is one it would change)."""
    if "ヴ" in text:
        text = _VU_RE.sub(lambda match: _VU[match.group(1)], text)
    if "オ" in text or "エ" in text:
        text = _VOWEL_LETTER_RE.sub(lambda match: "ウ" if match.group() == "オ" else "イ", text)
    if "之" in text or "乃" in text:
        text = _PARTICLE_NO_RE.sub("ノ", text)
    return text


def _forms(written: str) -> tuple[str, ...]:
    folded = _fold_letters(written)
    return (folded,) if folded == written else (folded, written)


def normalize_name(text: str) -> str:
    """The search form of a name or a reading: ﾔﾏﾀﾞ ﾊﾅｺ, やまだ はなこ and ヤマダ　ハナコ all
    become ヤマダハナコ; 髙橋 becomes 高橋 and 佐々木 佐佐木; オーノ, オウノ and オオノ
    become オウノ, ヴァイオリン バイオリン."""
    return _fold_letters(_fold(text))


def name_forms(text: str) -> tuple[str, ...]:
    """What a stored name is indexed as: its search form (``normalize_name``), and also the
    form before the folds that look at a neighbouring letter when they changed it.

    A name is indexed without the space between its parts (ヤマモト オサム is ヤマモトオサム),
    so such a fold may change the first letter of the given name by the last of the
    surname: ヤマモトウサム, イノウエイリカ; 山田博之 佐藤 (two names in one field) would be
    山田博ノ佐藤. A search for the given name alone (オサム, エリカ, 博之) then finds the name
    by its other form. A query is only ever the search form, so every fold still meets.

    When such a fold changed the name and it has parts (a space between them), the parts
    each folded alone are a third form: a given name that needs a fold of its own after a
    surname whose last letter changed its first (ヨシノ オオキ is ヨシノウウキ whole, ヨシノオオキ as
    written, and ヨシノオウキ by parts, which holds オオキ's search form オウキ)."""
    written = _fold(text)
    forms = _forms(written)
    if len(forms) > 1:
        parts = text.split()
        if len(parts) > 1:
            by_parts = "".join(_fold_letters(_fold(part)) for part in parts)
            # Only a form that, typed as a query, is the name's search form: a part that
            # begins with what reads its neighbour (ー, 々) is no name alone.
            if by_parts not in forms and _fold_letters(_fold(by_parts)) == forms[0]:
                forms = (*forms, by_parts)
    return forms


def _address_numbers(text: str) -> str:
    """三丁目十二番地の三 → 3-12-3, 3丁目1番2号 → 3-1-2 (see ``_ADDRESS_UNIT_RE``)."""
    while True:  # one pass, but 1番番 needs two to reach a fixed point
        text = _KANJI_NUMBER_RE.sub(_kanji_number_digits, text)
        text = _DASH_RUN_RE.sub("-", _ADDRESS_UNIT_RE.sub(_unit_separator, text))
        if not (_ADDRESS_UNIT_RE.search(text) or _KANJI_NUMBER_RE.search(text)):
            break
    if _OTHER_DASH_RE.search(text):
        # A unit dropped between a digit and a dash (1号ー2) leaves the dash after a digit.
        text = _DASH_RUN_RE.sub("-", _DIGIT_DASH_RE.sub("-", text))
    return text


def _kanji_number_digits(match: re.Match[str]) -> str:
    try:
        return str(kanji_number(match.group()))
    except ValueError:
        # Past the 4,300 digits Python writes (a server error before): no address number,
        # its digits one by one. Never the numeral as written: ``_address_numbers`` would
        # find it again, for ever.
        return "".join(
            str(_KANJI_DIGITS.index(char)) for char in match.group() if char in _KANJI_DIGITS
        )


def _unit_separator(match: re.Match[str]) -> str:
    return "-" if match.group("dash") else ""


#: A whole value that is a postal code as written on paper (〒181-0013): an address's
#: postal code is indexed as its seven digits.
_POSTAL_CODE_RE = re.compile(r"〒?(\d{3})-(\d{4})|〒(\d{7})")


def _text_written(text: str) -> str:
    """``normalize_text`` but for the folds that look at a neighbouring letter."""
    text = _DIGIT_DASH_RE.sub(lambda match: "-" * len(match.group()), _fold(text))
    postal = _POSTAL_CODE_RE.fullmatch(text) if len(text) <= 9 else None
    if postal is not None:
        return postal.group(3) or postal.group(1) + postal.group(2)
    if any(unit in text for unit in _NUMBERED_UNITS):
        return _address_numbers(text)
    return text


def normalize_text(text: str) -> str:
    """The search form of free text: the name folds, dashes after a digit
    become "-" (3丁目1ー2 → 3丁目1-2), and the numbering of an address is written with
    digits and "-" (三丁目 → 3-, 3丁目1番2号 → 3-1-2, 1番地の2 → 1-2; ``_address_numbers``).
    Other kanji numerals are kept: 三鷹 stays 三鷹. A value that is a postal code alone
    (〒181-0013, 181-0013, 〒1810013) is its seven digits, as an address's postal code is
    indexed."""
    return _fold_letters(_text_written(text))


def text_forms(text: str) -> tuple[str, ...]:
    """What stored free text is indexed as (see ``name_forms``)."""
    return _forms(_text_written(text))


def _address_written(text: str) -> str:
    text = _text_written(text)
    # After the numbering, which 字 never touches: a value normalised before this fold
    # existed then takes the same form (migration ledgers.0021).
    return _AZA_RE.sub("", text) if "字" in text else text


def normalize_address(text: str) -> str:
    """The search form of an address: ``normalize_text``, and without the 大字 and 字 that
    precede a district's name (東京都三鷹市大字上連雀 = 東京都三鷹市上連雀, 字安里 = 安里).
    Only in addresses: in free text 字 is a word's (数字, 赤字)."""
    return _fold_letters(_address_written(text))


def address_forms(text: str) -> tuple[str, ...]:
    """What a stored address is indexed as (see ``name_forms``)."""
    return _forms(_address_written(text))


_NON_ASCII_DIGITS_RE = re.compile(r"[^0-9]+")


def normalize_digits(text: str) -> str:
    """Only the digits, as ASCII (phone numbers, postal codes, resident numbers):
    "０３−１２３４−５６７８" → "0312345678"."""
    if text.isascii():  # the usual case, stored values: no need to look at each character
        return _NON_ASCII_DIGITS_RE.sub("", text)
    digits = (unicodedata.decimal(char, None) for char in nfkc(text))
    return "".join(str(digit) for digit in digits if digit is not None)


# ---------------------------------------------------------------------------------------
# Date queries

_ERA_BY_TOKEN: dict[str, Era] = {
    token: era for era in ERAS for token in (era.name, era.letter, era.kanji)
}
_ERA_ALTERNATIVES = "|".join(sorted(map(re.escape, _ERA_BY_TOKEN), key=len, reverse=True))
# A year, optionally with a month: 昭和60年, S60, 昭和60年3月, S60.3, 1985年, 1985, 1985/3.
_MONTH = r"(?:年\s*(?:(?P<m1>\d{1,2})\s*月)?|[./-]\s*(?P<m2>\d{1,2})\s*月?)?"
_ERA_YEAR_RE = re.compile(rf"(?P<era>{_ERA_ALTERNATIVES})\s*(?P<year>元|\d{{1,3}})\s*{_MONTH}")
_WESTERN_YEAR_RE = re.compile(rf"(?P<year>\d{{4}})\s*{_MONTH}")
_QUERY_EXAMPLES = "例: 令和5年4月1日、R5.4.1、昭和60年、昭和60年3月、昭和40年代、R5.4.1〜R5.6.30"


def _unreadable(text: str) -> WarekiError:
    return WarekiError(
        f"日付・期間として読み取れません: 「{text.strip()}」（{_QUERY_EXAMPLES}）",
        code="unreadable_date",
    )


def _span(year: int, month: int | None, *, label: str) -> tuple[date, date]:
    """The whole year, or the whole month."""
    if not 1 <= year <= 9999:
        raise WarekiError(f"年が正しくありません（{year}年）", code="invalid_year")
    if month is None:
        return date(year, 1, 1), date(year, 12, 31)
    if not 1 <= month <= 12:
        raise WarekiError(f"月が正しくありません（{label}{month}月）", code="invalid_month")
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _month(match: re.Match[str]) -> int | None:
    month = match.group("m1") or match.group("m2")
    return None if month is None else int(month)


def _era_span(match: re.Match[str]) -> tuple[date, date]:
    """昭和60年 or 昭和60年3月, cut to the era: 昭和64年 is 1989-01-01 … 1989-01-07."""
    era = _ERA_BY_TOKEN[match.group("era")]
    year = 1 if match.group("year") == "元" else int(match.group("year"))
    month = _month(match)
    label = era_year_label(era, year)
    check_era_year(era, year)
    start, end = _span(era.start.year + year - 1, month, label=label)
    start = max(start, era.accepted_from)
    end = end if era.end is None else min(end, era.end)
    if start > end:
        bound = (
            f"{era.name}は{format_western(era.accepted_from)}から"
            if end < era.accepted_from
            else f"{era.name}は{format_western(era.end or end)}まで"
        )
        raise WarekiError(
            f"{label}{month}月は{era.name}の期間外です（{bound}）", code="outside_era"
        )
    return start, end


def _single_query(text: str) -> tuple[date, date]:
    """One date, month, year or decade (no range)."""
    try:
        day = parse_date(text)
    except WarekiError as error:
        if error.code != "unreadable_date":
            raise  # readable but wrong (2月30日): the date field's own message says why
    else:
        return day, day
    prepared = prepare_date_text(text)
    if "年代" in prepared:
        return parse_era_decade(text)
    if match := _ERA_YEAR_RE.fullmatch(prepared):
        return _era_span(match)
    if match := _WESTERN_YEAR_RE.fullmatch(prepared):
        year = int(match.group("year"))
        return _span(year, _month(match), label=f"{year}年")
    raise _unreadable(text)


def _pair(left: str, right: str, *, open_ends: bool) -> tuple[date, date]:
    """From the start of ``left`` to the end of ``right``; an empty side is open when the
    separator was a wave dash (令和5年4月1日〜)."""
    if not left.strip() and not right.strip():
        raise WarekiError("期間の始まりか終わりを入力してください", code="unreadable_date")
    if not open_ends and not (left.strip() and right.strip()):
        raise _unreadable(left + "-" + right)
    start = _single_query(left)[0] if left.strip() else date.min
    end = _single_query(right)[1] if right.strip() else date.max
    if start > end:
        raise WarekiError(
            f"期間の始まり（{format_date(start)}）が終わり（{format_date(end)}）より後です",
            code="reversed_range",
        )
    return start, end


#: The longest date search (令和元年12月31日〜令和元年12月31日 is 21 characters).
MAX_DATE_QUERY = 40


def parse_date_query(text: str) -> tuple[date, date]:
    """A date search as an inclusive (from, to) range.

    A date in any form the date field reads (令和5年4月1日, R5.4.1, 2023/04/01, full width)
    gives (d, d); 昭和40年代 the decade; 昭和60年, S60 or 1985年 the year; 昭和60年3月, R5.4 or
    2023-04 the month; two of these joined by 〜, ~ or ～ (either side may be left open) or by
    a dash (S60.1.1-S60.12.31) the range from the first to the end of the second. Raises
    WarekiError with a Japanese message, as the date field does.
    """
    if not isinstance(text, str):
        raise WarekiError("日付は文字列で入力してください", code="invalid_type")
    text = text.strip()
    if not text:
        raise WarekiError("日付を入力してください", code="required")
    if len(text) > MAX_DATE_QUERY:
        # No date or range is longer; each dash is tried as a range's separator, each try
        # parses both halves: 16,000 dashes took 20 s.
        raise WarekiError(f"日付は{MAX_DATE_QUERY}文字までで入力してください", code="too_long")
    waves = [index for index, char in enumerate(text) if char in _WAVES + "～"]
    if len(waves) > 1:
        raise WarekiError(
            f"期間の区切り（〜）は一つだけにしてください: 「{text}」", code="unreadable_date"
        )
    if waves:
        return _pair(text[: waves[0]], text[waves[0] + 1 :], open_ends=True)
    try:
        return _single_query(text)
    except WarekiError as error:
        single_error = error
    # A dash is both inside dates (2023-04-01) and between them: try every dash, and accept
    # the one split where both sides read.
    ranges: set[tuple[date, date]] = set()
    side_error: WarekiError | None = None
    for index, char in enumerate(text):
        if char not in HYPHENS:
            continue
        try:
            ranges.add(_pair(text[:index], text[index + 1 :], open_ends=False))
        except WarekiError as error:
            if error.code not in ("unreadable_date", "unreadable_decade"):
                side_error = side_error or error
    if len(ranges) == 1:
        return ranges.pop()
    if ranges:
        raise WarekiError(
            f"期間の区切りが曖昧です: 「{text}」（〜で区切ってください）", code="ambiguous_range"
        )
    if side_error is not None and single_error.code == "unreadable_date":
        raise side_error
    raise single_error
