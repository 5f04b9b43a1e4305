"""Request and response shapes of the records API (also the OpenAPI description)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import empty

from ledgers.api.common import WholeNumberField


class ValuesField(serializers.DictField):
    """A JSON object of field values, passed on as parsed: the ledger's field types
    validate every value (``values_clean``). DRF's ``DictField`` ran each value through a
    field of its own first, a copy that was 4 % of a bulk request's CPU."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        return data


def plainly_valid(serializer_class: type[serializers.Serializer], data: Any) -> dict | None:
    """``serializer_class(data=data).validated_data`` when ``data`` is plainly valid for a
    serializer of ``ValuesField`` and ``CharField`` fields: an object of only its fields,
    every required one present, values an object or a text that the field's own validators
    pass and its whitespace trimming would not change; defaults filled in as DRF does.
    ``None`` otherwise, and the caller runs the serializer (its errors, its conversions).

    DRF builds a serializer's fields anew for every instance (a deep copy of the declared
    ones): 0.2 ms of a ~5 ms PATCH (measured 2026-11-29). The declared fields are only
    read here, never bound."""
    if type(data) is not dict:
        return None
    declared = serializer_class._declared_fields  # type: ignore[attr-defined]
    for key, value in data.items():
        field = declared.get(key)
        if type(field) is ValuesField:
            if type(value) is not dict:
                return None
        elif type(field) is serializers.CharField:
            if type(value) is not str or (field.trim_whitespace and value != value.strip()):
                return None
            if not value and not field.allow_blank:
                return None
            try:
                for validator in field.validators:
                    validator(value)
            except (serializers.ValidationError, DjangoValidationError):
                return None
        else:  # a key no field declares (DRF drops it), or a field of another kind
            return None
    validated = dict(data)
    for key, field in declared.items():
        if key not in validated:
            if field.required:
                return None
            if field.default is not empty:
                validated[key] = field.get_default()
    return validated


class RecordSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    generation = serializers.IntegerField()
    state = serializers.CharField()
    values = serializers.DictField(help_text='項目キーごとの値。権限のない項目は {"masked": true}')
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    deleted = serializers.BooleanField()


class RecordListSerializer(serializers.Serializer):
    results = RecordSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    count = serializers.IntegerField(required=False)


class RecordAsOfSerializer(RecordSerializer):
    action = serializers.CharField()
    actor = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()
    reason = serializers.CharField(allow_blank=True)
    definition_version = serializers.IntegerField()


class RecordCreateSerializer(serializers.Serializer):
    values = ValuesField()
    state = serializers.CharField(required=False, allow_blank=True, max_length=64)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class RecordPatchSerializer(serializers.Serializer):
    values = ValuesField(required=False, default=dict)
    state = serializers.CharField(required=False, max_length=64)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class RecordDeleteSerializer(serializers.Serializer):
    # Blank passes here for the service's own message (a reason is required).
    reason = serializers.CharField(max_length=500, allow_blank=True)


class BulkItemListSerializer(serializers.ListSerializer):
    """A bulk request's items: one whose ``values`` is an object passes as it is (the
    ledger's field types validate the values, ``record_bulk_create``); any other goes
    through the item serializer for DRF's own errors. DRF's machinery per item was
    ~14 µs, 1.4 ms of a request of 100 (2026-11-29)."""

    def run_child_validation(self, data: Any) -> Any:
        if type(data) is dict and type(data.get("values")) is dict:
            return {"values": data["values"]}
        return super().run_child_validation(data)


class BulkItemSerializer(serializers.Serializer):
    values = ValuesField()

    class Meta:
        list_serializer_class = BulkItemListSerializer


#: The most records one bulk request may create.
BULK_MAX = 1000


class BulkCreateSerializer(serializers.Serializer):
    records = BulkItemSerializer(many=True, allow_empty=False, max_length=BULK_MAX)


def bulk_values(data: Any) -> list[dict] | None:
    """Each item's ``values`` when ``data`` is a plainly valid ``BulkCreateSerializer``
    body: an object of only ``records``, a list of 1 to ``BULK_MAX`` objects of only
    ``values``, each an object. ``None`` otherwise, and the caller runs the serializer (its
    errors). The serializer's own machinery cost ~0.45 ms of a bulk request of 100
    (py-spy, 2026-11-29), though every item took its quick path already."""
    if type(data) is not dict or len(data) != 1:
        return None
    records = data.get("records")
    if type(records) is not list or not 0 < len(records) <= BULK_MAX:
        return None
    values_list = []
    for item in records:
        if type(item) is not dict or len(item) != 1:
            return None
        values = item.get("values")
        if type(values) is not dict:
            return None
        values_list.append(values)
    return values_list


class BulkResultItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    generation = serializers.IntegerField()


class BulkResultSerializer(serializers.Serializer):
    results = BulkResultItemSerializer(many=True)


class VersionSummarySerializer(serializers.Serializer):
    generation = serializers.IntegerField()
    action = serializers.ChoiceField(choices=["create", "update", "delete", "restore"])
    actor = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()
    reason = serializers.CharField(allow_blank=True)


class VersionListSerializer(serializers.Serializer):
    results = VersionSummarySerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="次のページのアドレス（最後は null）")


class VersionSerializer(VersionSummarySerializer):
    deleted = serializers.BooleanField()
    definition_version = serializers.IntegerField()
    values = serializers.DictField()


class DiffSerializer(serializers.Serializer):
    to = serializers.IntegerField()
    changes = serializers.DictField(help_text='{項目キー: {"from": 値, "to": 値}}')

    def get_fields(self) -> dict[str, serializers.Field]:
        # `from` is a Python keyword: declared here so that the schema names the key the
        # answer has (it named `from_generation`, and generated clients refused every diff).
        return {"from": serializers.IntegerField(), **super().get_fields()}


class RestoreSerializer(serializers.Serializer):
    generation = WholeNumberField(digit_strings=True, required=False, min_value=1)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
