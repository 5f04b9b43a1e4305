import pytest
from django.core.exceptions import ValidationError

from tenants.codes import municipality_code_check_digit, validate_municipality_code


@pytest.mark.parametrize(
    "code",
    [
        "132047",  # 三鷹市
        "132039",  # 武蔵野市
        "011002",  # 札幌市 (sum below 11)
        "010006",  # 北海道
        "131016",  # 千代田区
        "271004",  # 大阪市
        "472018",  # 那覇市
        "401005",  # 北九州市
    ],
)
def test_valid_codes_pass(code: str) -> None:
    validate_municipality_code(code)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("132040", "check_digit"),
        ("132048", "check_digit"),
        ("13204", "format"),
        ("1320477", "format"),
        ("13204７", "format"),  # full-width digit
        ("abcdef", "format"),
        ("", "format"),
        ("482005", "prefecture"),
        ("002003", "prefecture"),
    ],
)
def test_invalid_codes_are_refused_with_a_reason(code: str, error: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_municipality_code(code)
    assert info.value.code == error
    assert "全国地方公共団体コード" in info.value.messages[0]


@pytest.mark.parametrize(("first_five", "digit"), [("13204", 7), ("01100", 2), ("27100", 4)])
def test_check_digit(first_five: str, digit: int) -> None:
    assert municipality_code_check_digit(first_five) == digit


def test_remainder_zero_and_one_wrap_to_the_last_digit() -> None:
    # 11 - 0 = 11 → 1 and 11 - 1 = 10 → 0: the rule keeps the last digit only.
    sums = {}
    for n in range(100000):
        five = f"{n:05d}"
        total = sum(int(d) * w for d, w in zip(five, (6, 5, 4, 3, 2), strict=True))
        sums.setdefault(total % 11, five)
        if len(sums) == 11:
            break
    assert municipality_code_check_digit(sums[0]) == 1
    assert municipality_code_check_digit(sums[1]) == 0
