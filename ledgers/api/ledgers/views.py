"""Ledger definitions: /api/v1/ledgers/ with fields and grants."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledgers.access.models import Grant
from ledgers.access.policy import capabilities_by_ledger, policy_for
from ledgers.access.services import grant_describe, grants_replace
from ledgers.api.common import object_body
from ledgers.api.errors import ErrorShape
from ledgers.api.output import ledger_for
from ledgers.definitions.models import Ledger
from ledgers.definitions.services import (
    field_add,
    field_remove,
    field_update,
    ledger_create,
    ledger_definition_replace,
    ledger_update,
)
from ledgers.exceptions import DefinitionInvalid, LedgerError


class FieldNotFound(LedgerError):
    code = "ERROR_FIELD_DOES_NOT_EXIST"
    status = 404


class LedgerDocument(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    retention_years = serializers.IntegerField(required=False, allow_null=True, default=None)
    sensitivity = serializers.CharField(required=False, default="personal")
    fields = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    layout = serializers.DictField(required=False, allow_null=True, default=None)
    search_screens = serializers.ListField(
        child=serializers.DictField(), required=False, default=list
    )


class FieldSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64)
    label = serializers.CharField(max_length=200)
    type = serializers.CharField()
    required = serializers.BooleanField(required=False, default=False)
    help_text = serializers.CharField(required=False, allow_blank=True, default="")
    options = serializers.DictField(required=False, default=dict)
    sensitivity = serializers.CharField(required=False, default="internal")
    section = serializers.CharField(required=False, allow_blank=True, default="")
    fields = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="group の列"
    )


class FieldListSerializer(serializers.Serializer):
    results = FieldSerializer(many=True)


class LedgerOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    category = serializers.CharField(allow_blank=True)
    retention_years = serializers.IntegerField(allow_null=True)
    sensitivity = serializers.CharField()
    definition_version = serializers.IntegerField()
    fields = FieldSerializer(many=True)
    layout = serializers.DictField()
    search_screens = serializers.ListField(child=serializers.DictField())
    capabilities = serializers.ListField(child=serializers.CharField())


class LedgerListSerializer(serializers.Serializer):
    results = LedgerOut(many=True)


class GrantSerializer(serializers.Serializer):
    department = serializers.CharField(required=False, allow_null=True)
    # Empty or null: the grant is for every role of the department (the service reads "" so).
    role = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    capabilities = serializers.ListField(child=serializers.CharField())
    clearance = serializers.CharField(required=False, default="internal")


def field_out(field: dict[str, Any]) -> dict[str, Any]:
    """A field as the contract's document writes it: a group is ``"type": "group"`` with its
    sub-fields in ``fields`` beside the type. It is stored as ``repeating_group`` with them
    in ``options``: answered so, an id the contract does not list, a client mapping the
    contract's type ids met an unknown type in every definition it read."""
    if field.get("type") != "repeating_group":
        return field
    options = dict(field.get("options") or {})
    return {**field, "type": "group", "fields": options.pop("fields", []), "options": options}


def ledger_out(ledger: Ledger, capabilities: frozenset[str]) -> dict[str, Any]:
    definition = ledger.definition
    return {
        "code": ledger.code,
        "name": ledger.name,
        "description": ledger.description,
        "category": ledger.category,
        "retention_years": ledger.retention_years,
        "sensitivity": ledger.sensitivity,
        "definition_version": ledger.definition_version,
        "fields": [field_out(f) for f in definition.get("fields", []) if not f.get("removed")],
        "layout": definition.get("layout", {"sections": []}),
        "search_screens": definition.get("search_screens", []),
        "capabilities": sorted(capabilities),
    }


class LedgerListView(APIView):
    # Reading a definition needs no scope (as the departments): the access policy decides,
    # and a design-only token can read back what it writes (records:read opened records).
    required_scopes = {"POST": "ledgers:design"}

    @extend_schema(operation_id="v1_ledgers_list", responses={200: LedgerListSerializer})
    def get(self, request: Request) -> Response:
        ledgers = list(Ledger.objects.order_by("code"))
        capabilities = capabilities_by_ledger(request.user, ledgers)
        results = [
            ledger_out(ledger, capabilities[ledger.pk])
            for ledger in ledgers
            if capabilities[ledger.pk]
        ]
        return Response({"results": results})

    @extend_schema(
        request=LedgerDocument, responses={201: LedgerOut, 400: ErrorShape, 403: ErrorShape}
    )
    def post(self, request: Request) -> Response:
        body = LedgerDocument(data=request.data)
        body.is_valid(raise_exception=True)
        ledger = ledger_create(actor=request.user, **body.validated_data)
        return Response(
            ledger_out(ledger, policy_for(request.user, ledger).capabilities),
            status=status.HTTP_201_CREATED,
        )


class LedgerDetailView(APIView):
    required_scopes = {"PUT": "ledgers:design", "PATCH": "ledgers:design"}

    @extend_schema(responses={200: LedgerOut, 404: ErrorShape})
    def get(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        return Response(ledger_out(ledger, policy.capabilities))

    @extend_schema(
        request=LedgerDocument, responses={200: LedgerOut, 400: ErrorShape, 403: ErrorShape}
    )
    def put(self, request: Request, code: str) -> Response:
        """Replace the whole definition: fields left out are kept as removed, never erased."""
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        body = LedgerDocument(data={"code": code, **object_body(request)})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data["code"] != code:
            raise DefinitionInvalid({"code": ["台帳コードは変更できません。"]})
        # One change: a document refused after the name, retention and sensitivity were
        # written left them changed behind a 400.
        with transaction.atomic():
            ledger = ledger_update(
                actor=request.user, ledger=ledger, name=data["name"], description=data["description"],
                category=data["category"], retention_years=data["retention_years"], sensitivity=data["sensitivity"],
            )  # fmt: skip
            ledger = ledger_definition_replace(
                actor=request.user, ledger=ledger,
                document={"fields": data["fields"], "layout": data["layout"], "search_screens": data["search_screens"]},
            )  # fmt: skip
        return Response(ledger_out(ledger, policy.capabilities))

    @extend_schema(
        request=LedgerDocument(partial=True), responses={200: LedgerOut, 400: ErrorShape}
    )
    def patch(self, request: Request, code: str) -> Response:
        """Change name, description, category, retention or sensitivity."""
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        body = LedgerDocument(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        changes = {
            k: data[k]
            for k in ("name", "description", "category", "sensitivity")
            if k in request.data
        }
        if "retention_years" in request.data:
            changes["retention_years"] = data["retention_years"]
        ledger = ledger_update(actor=request.user, ledger=ledger, **changes)
        return Response(ledger_out(ledger, policy.capabilities))


class FieldListView(APIView):
    # Reading a definition needs no scope (as the departments): the access policy decides,
    # and a design-only token can read back what it writes (records:read opened records).
    required_scopes = {"POST": "ledgers:design"}

    @extend_schema(
        operation_id="v1_ledgers_fields_list", responses={200: FieldListSerializer, 404: ErrorShape}
    )
    def get(self, request: Request, code: str) -> Response:
        ledger, _policy = ledger_for(request, code)
        return Response({"results": [field_out(f) for f in ledger.fields()]})

    @extend_schema(request=FieldSerializer, responses={201: FieldSerializer, 400: ErrorShape})
    def post(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        ledger = field_add(actor=request.user, ledger=ledger, field=object_body(request))
        field = next(f for f in ledger.fields() if f["key"] == request.data.get("key"))
        return Response(field_out(field), status=status.HTTP_201_CREATED)


class FieldDetailView(APIView):
    required_scopes = {
        "PATCH": "ledgers:design",
        "PUT": "ledgers:design",
        "DELETE": "ledgers:design",
    }

    @extend_schema(responses={200: FieldSerializer, 400: ErrorShape, 404: ErrorShape})
    def get(self, request: Request, code: str, key: str) -> Response:
        ledger, _policy = ledger_for(request, code)
        field = next((f for f in ledger.fields() if f["key"] == key), None)
        if field is None:
            raise FieldNotFound("項目が見つかりません。", detail={"key": key})
        return Response(field_out(field))

    @extend_schema(
        request=FieldSerializer(partial=True),
        responses={200: FieldSerializer, 400: ErrorShape, 404: ErrorShape},
        description="項目の定義のうち、変える部分だけを送ります（PUT も同じ）。",
    )
    def patch(self, request: Request, code: str, key: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        ledger = field_update(
            actor=request.user, ledger=ledger, key=key, changes=object_body(request)
        )
        return Response(field_out(next(f for f in ledger.fields() if f["key"] == key)))

    put = patch

    @extend_schema(responses={204: None, 400: ErrorShape})
    def delete(self, request: Request, code: str, key: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        field_remove(actor=request.user, ledger=ledger, key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GrantListView(APIView):
    required_scopes = {"GET": "ledgers:design", "PUT": "ledgers:design"}

    @extend_schema(responses={200: GrantSerializer(many=True)})
    def get(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        grants = Grant.objects.filter(ledger=ledger).select_related("department").order_by("id")
        return Response([grant_describe(g) for g in grants])

    @extend_schema(
        request=GrantSerializer(many=True),
        responses={200: GrantSerializer(many=True), 400: ErrorShape},
    )
    def put(self, request: Request, code: str) -> Response:
        ledger, _policy = ledger_for(request, code)
        if not isinstance(request.data, list):
            raise DefinitionInvalid({"grants": ["権限は配列で指定してください。"]})
        rows = grants_replace(actor=request.user, ledger=ledger, grants=request.data)
        return Response([grant_describe(g) for g in rows])
