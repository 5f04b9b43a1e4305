"""``plainly_valid`` (the records API's quick body check) agrees with DRF's serializers:
whatever it accepts, the serializer accepts with the same validated data."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgers.api.records.serializers import (
    BULK_MAX,
    BulkCreateSerializer,
    RecordCreateSerializer,
    RecordPatchSerializer,
    bulk_values,
    plainly_valid,
)

texts = st.one_of(
    st.text(max_size=8),
    st.text(min_size=60, max_size=70),
    st.text(min_size=495, max_size=505),
    st.sampled_from(
        ["", " ", " 審査中", "審査中 ", "申請\x00", "\ud800", "決定", "x" * 64, "x" * 65]
    ),
)
scalars = st.one_of(texts, st.none(), st.integers(), st.booleans(), st.floats(allow_nan=False))
values = st.one_of(
    st.dictionaries(st.text(max_size=5), scalars, max_size=3),
    scalars,
    st.lists(scalars, max_size=2),
)
bodies = st.one_of(
    st.dictionaries(
        st.sampled_from(["values", "state", "reason", "other"]),
        st.one_of(values, texts),
        max_size=4,
    ),
    scalars,
)


@pytest.mark.parametrize("serializer_class", [RecordPatchSerializer, RecordCreateSerializer])
@settings(max_examples=400, deadline=None)
@given(body=bodies)
def test_what_the_quick_check_accepts_the_serializer_accepts_alike(
    serializer_class: Any, body: Any
) -> None:
    quick = plainly_valid(serializer_class, body)
    serializer = serializer_class(data=body)
    if quick is not None:
        assert serializer.is_valid(), serializer.errors
        assert quick == dict(serializer.validated_data)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"values": {"amount": 5}}, {"values": {"amount": 5}}),
        (
            {"values": {"a": 1}, "state": "審査中", "reason": "増額"},
            {"values": {"a": 1}, "state": "審査中", "reason": "増額"},
        ),
        ({"state": "決定"}, {"state": "決定", "values": {}}),
        ({"values": {}, "reason": ""}, {"values": {}, "reason": ""}),
    ],
)
def test_an_ordinary_patch_takes_the_quick_path(body: Any, expected: Any) -> None:
    assert plainly_valid(RecordPatchSerializer, body) == expected


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"values": []},
        {"values": {}, "state": ""},  # a blank state is an error
        {"values": {}, "state": " 審査中"},  # DRF trims it
        {"values": {}, "state": "x" * 65},
        {"values": {}, "reason": "理" * 501},
        {"values": {}, "state": 3},  # DRF turns a number into a text
        {"values": {}, "state": "a\x00b"},
        {"values": {}, "unknown": 1},  # DRF drops it
    ],
)
def test_anything_else_goes_to_the_serializer(body: Any) -> None:
    assert plainly_valid(RecordPatchSerializer, body) is None


def test_a_create_without_values_goes_to_the_serializer() -> None:
    assert plainly_valid(RecordCreateSerializer, {"state": "申請"}) is None
    assert not RecordCreateSerializer(data={"state": "申請"}).is_valid()


items = st.one_of(
    st.fixed_dictionaries({"values": values}),
    st.dictionaries(st.sampled_from(["values", "other"]), values, max_size=2),
    scalars,
)
bulk_bodies = st.one_of(
    st.fixed_dictionaries({"records": st.lists(items, max_size=4)}),
    st.dictionaries(st.sampled_from(["records", "other"]), st.lists(items, max_size=3), max_size=2),
    st.fixed_dictionaries({"records": st.one_of(scalars, values)}),
    scalars,
)


@settings(max_examples=400, deadline=None)
@given(body=bulk_bodies)
def test_what_the_bulk_quick_check_accepts_the_serializer_accepts_alike(body: Any) -> None:
    quick = bulk_values(body)
    serializer = BulkCreateSerializer(data=body)
    if quick is not None:
        assert serializer.is_valid(), serializer.errors
        assert quick == [item["values"] for item in serializer.validated_data["records"]]


def test_the_bulk_quick_check_leaves_the_limits_to_the_serializer() -> None:
    one = {"values": {"name": "佐藤"}}
    assert bulk_values({"records": [one] * BULK_MAX}) == [one["values"]] * BULK_MAX
    for body in ({"records": []}, {"records": [one] * (BULK_MAX + 1)},
                 {"records": [one], "other": 1}, {"records": [{"values": {}, "x": 1}]},
                 {"records": [{"values": "佐藤"}]}, {"records": "x"}, ["records"]):  # fmt: skip
        assert bulk_values(body) is None
    assert not BulkCreateSerializer(data={"records": [one] * (BULK_MAX + 1)}).is_valid()
    assert not BulkCreateSerializer(data={"records": []}).is_valid()
