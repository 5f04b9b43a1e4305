"""全国地方公共団体コード (local government codes) and prefectures.

A code has six digits: two for the prefecture, three for the municipality, and a check
digit computed as the Ministry of Internal Affairs prescribes (総務省「全国地方公共団体コード」):
multiply the first five digits by 6, 5, 4, 3, 2; take the sum's remainder modulo 11; the
check digit is the last digit of 11 minus that remainder.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

PREFECTURES: dict[str, str] = {
    "01": "北海道", "02": "青森県", "03": "岩手県", "04": "宮城県", "05": "秋田県",
    "06": "山形県", "07": "福島県", "08": "茨城県", "09": "栃木県", "10": "群馬県",
    "11": "埼玉県", "12": "千葉県", "13": "東京都", "14": "神奈川県", "15": "新潟県",
    "16": "富山県", "17": "石川県", "18": "福井県", "19": "山梨県", "20": "長野県",
    "21": "岐阜県", "22": "静岡県", "23": "愛知県", "24": "三重県", "25": "滋賀県",
    "26": "京都府", "27": "大阪府", "28": "兵庫県", "29": "奈良県", "30": "和歌山県",
    "31": "鳥取県", "32": "島根県", "33": "岡山県", "34": "広島県", "35": "山口県",
    "36": "徳島県", "37": "香川県", "38": "愛媛県", "39": "高知県", "40": "福岡県",
    "41": "佐賀県", "42": "長崎県", "43": "熊本県", "44": "大分県", "45": "宮崎県",
    "46": "鹿児島県", "47": "沖縄県",
}  # fmt: skip

PREFECTURE_CHOICES = list(PREFECTURES.items())

_WEIGHTS = (6, 5, 4, 3, 2)
_CODE_RE = re.compile(r"^[0-9]{6}$")


def municipality_code_check_digit(first_five: str) -> int:
    """The check digit of a 5-digit municipality code."""
    total = sum(int(d) * w for d, w in zip(first_five, _WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def validate_municipality_code(code: str) -> None:
    """Raise ValidationError (in Japanese) unless ``code`` is a valid 6-digit code."""
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise ValidationError(
            "全国地方公共団体コードは半角数字6桁で入力してください。", code="format"
        )
    if code[:2] not in PREFECTURES:
        raise ValidationError(
            "全国地方公共団体コードの上2桁（都道府県コード）が01〜47ではありません。",
            code="prefecture",
        )
    expected = municipality_code_check_digit(code[:5])
    if int(code[5]) != expected:
        raise ValidationError(
            f"全国地方公共団体コードの検査数字が正しくありません（6桁目は {expected} のはずです）。",
            code="check_digit",
        )


def prefecture_of(code: str) -> str:
    """The two-digit prefecture code of a municipality code."""
    return code[:2]
