"""Ledger definitions: /api/v1/ledgers/ with fields and grants."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from daicho.accounts.models import Role
from ledgers.access.models import Capability
from ledgers.access.policy import LedgerPolicy, policy_for, rights_by_ledger
from ledgers.access.services import grant_describe, grants_describe, grants_replace, grants_tag
from ledgers.api.common import WholeNumberField, object_body
from ledgers.api.errors import (
    DOCUMENT_IF_MATCH,
    ErrorShape,
    document_etag,
    document_etag_header,
    parse_tags_if_match,
)
from ledgers.api.output import ledger_for
from ledgers.api.schema import DocumentedChoice, field_type_accepted, field_type_choices
from ledgers.definitions.models import Ledger, Sensitivity
from ledgers.definitions.services import (
    field_add,
    field_remove,
    field_update,
    ledger_create,
    ledger_definition_replace,
    ledger_tag,
    ledger_update,
)
from ledgers.exceptions import DefinitionInvalid, LedgerError


class FieldNotFound(LedgerError):
    code = "ERROR_FIELD_DOES_NOT_EXIST"
    status = 404


class SearchCriterionDocument(serializers.Serializer):
    """A search screen's criterion, as ``ledgers.search.screens`` reads and stores it."""

    field = serializers.CharField(help_text="項目のパス（name、offenders.name）")
    match = serializers.ChoiceField(
        choices=["exact", "prefix", "contains", "range"], default="contains",
        help_text="exact・prefix・contains（文字）、exact・range（日付）。型ごとに使えるものが決まっています",
    )  # fmt: skip
    label = serializers.CharField(required=False, help_text="省略すると項目の名前")


class SearchScreenDocument(serializers.Serializer):
    """A search screen as the definition holds it: what the schema says of
    ``search_screens``. Documentation only: the screens are checked by
    ``ledgers.search.screens.screens_validate`` (its Japanese messages), which refuses a
    key it does not know."""

    refuses_unknown_keys = True

    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    generations = serializers.ChoiceField(
        choices=["current", "all"], default="current",
        help_text="current: 最新の世代だけ、all: すべての世代（一致した世代を返します）",
    )  # fmt: skip
    criteria = SearchCriterionDocument(many=True, allow_empty=False)
    result_fields = serializers.ListField(child=serializers.CharField(), required=False)
    excluded_fields = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="条件にも結果にも使えない項目（加害者検索の住所など）",
    )  # fmt: skip
    reason_required = serializers.BooleanField(default=False)
    max_results = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class SearchCriterionOut(serializers.Serializer):
    field = serializers.CharField()
    match = serializers.ChoiceField(choices=["exact", "prefix", "contains", "range"])
    label = serializers.CharField()


class SearchScreenOut(serializers.Serializer):
    """A search screen as a definition answers it: every key, as stored (normalised)."""

    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    generations = serializers.ChoiceField(choices=["current", "all"])
    criteria = SearchCriterionOut(many=True)
    result_fields = serializers.ListField(child=serializers.CharField())
    excluded_fields = serializers.ListField(child=serializers.CharField())
    reason_required = serializers.BooleanField()
    max_results = serializers.IntegerField(min_value=1, max_value=1000)


@extend_schema_field(SearchScreenDocument(many=True))
class SearchScreensField(serializers.ListField):
    """A request's ``search_screens``: read as a list of objects (the services check
    them), described as ``SearchScreenDocument``s."""


@extend_schema_field(SearchScreenOut(many=True))
class SearchScreensOutField(serializers.ListField):
    """An answer's ``search_screens``, described as ``SearchScreenOut``s."""


class LedgerDocument(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    # A JSON number only: DRF also read "5", 5.0 and " 5.0 " as 5, where the rest of the
    # definition document (a screen's max_results, a field's required) takes only its JSON
    # type: one document, one rule, and a document the API took is one every reader takes.
    retention_years = WholeNumberField(
        required=False,
        allow_null=True,
        default=None,
        help_text="保存年限（年、1〜100）。null は永年",
    )
    sensitivity = DocumentedChoice(
        choices=lambda: Sensitivity.choices, required=False, default="personal"
    )
    fields = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    layout = serializers.DictField(required=False, allow_null=True, default=None)
    search_screens = SearchScreensField(child=serializers.DictField(), required=False, default=list)


class LedgerPatchDocument(serializers.Serializer):
    """What a PATCH of a ledger changes (the schema's request; the server reads the body as
    ``LedgerDocument``, whose other keys it takes only as they are)."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    category = serializers.CharField(required=False, allow_blank=True, max_length=100)
    retention_years = WholeNumberField(
        required=False, allow_null=True, help_text="保存年限（年、1〜100）。null は永年"
    )
    sensitivity = DocumentedChoice(choices=lambda: Sensitivity.choices, required=False)


class FieldSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64)
    label = serializers.CharField(max_length=200)
    type = DocumentedChoice(choices=field_type_choices, accepted=field_type_accepted)
    required = serializers.BooleanField(required=False, default=False)
    help_text = serializers.CharField(required=False, allow_blank=True, default="")
    options = serializers.DictField(required=False, default=dict)
    sensitivity = DocumentedChoice(
        choices=lambda: Sensitivity.choices, required=False, default="internal"
    )
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
    sensitivity = DocumentedChoice(choices=lambda: Sensitivity.choices)
    definition_version = serializers.IntegerField()
    fields = FieldSerializer(many=True)
    layout = serializers.DictField()
    search_screens = SearchScreensOutField(child=serializers.DictField())
    capabilities = serializers.ListField(child=DocumentedChoice(choices=lambda: Capability.choices))
    runnable_search_screens = serializers.ListField(
        child=serializers.CharField(),
        help_text="呼び出した人が使える検索画面のコード（権限の search_screens による）",
    )


class LedgerListSerializer(serializers.Serializer):
    results = LedgerOut(many=True)


class GrantSerializer(serializers.Serializer):
    department = serializers.CharField(required=False, allow_null=True)
    # Empty or null: the grant is for every role of the department (the service reads "" so).
    role = DocumentedChoice(
        choices=lambda: Role.choices, required=False, allow_null=True, allow_blank=True
    )
    capabilities = serializers.ListField(child=DocumentedChoice(choices=lambda: Capability.choices))
    clearance = DocumentedChoice(
        choices=lambda: Sensitivity.choices, required=False, default="internal"
    )
    search_screens = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        min_length=1,
        help_text=(
            "この権限の search で使える検索画面のコード（重複なし）。null または省略で"
            "すべての検索画面。search を与える権限にだけ指定できます。"
        ),
    )


#: The keys a ledger's document may hold: those it is written with, those a read answers
#: (taken as they are, so that a document read back is sent back whole) and the server's
#: ``disclosure`` section, which a stored definition holds and a document sent is never
#: read for (``definitions.services._with_disclosure``).
_DOCUMENT_KEYS = frozenset(LedgerDocument().fields) | frozenset(LedgerOut().fields) | {"disclosure"}


def _known_keys_only(body: Any) -> None:
    """Refuse (400, nothing written) a document holding a key no document has. DRF drops
    such keys: a misspelt ``search_screens`` or ``fields`` in a ``PUT`` was read as none
    given, and every screen (加害者検索 with them) or field was removed with a 200; a
    misspelt ``retention_years`` in a ``PATCH`` changed nothing, with a 200."""
    if not isinstance(body, dict):
        return  # the serializer answers for a body that is no object
    unknown = sorted(str(key) for key in body if key not in _DOCUMENT_KEYS)
    if unknown:
        raise DefinitionInvalid({key: ["不明な属性です。"] for key in unknown})


def field_out(field: dict[str, Any]) -> dict[str, Any]:
    """A field as the contract's document writes it: a group is ``"type": "group"`` with its
    sub-fields in ``fields`` beside the type. It is stored as ``repeating_group`` with them
    in ``options``: answered so, an id the contract does not list, a client mapping the
    contract's type ids met an unknown type in every definition it read."""
    if field.get("type") != "repeating_group":
        return field
    options = dict(field.get("options") or {})
    return {**field, "type": "group", "fields": options.pop("fields", []), "options": options}


def ledger_out(
    ledger: Ledger, capabilities: frozenset[str], runnable: list[str] | None = None
) -> dict[str, Any]:
    """A ledger as its reader holding ``capabilities`` reads it; ``runnable``: the search
    screens its grants restrict it to (``LedgerPolicy.runnable_screens``), ``None`` for
    every screen."""
    definition = ledger.definition
    if runnable is None:
        runnable = (
            [s["code"] for s in definition.get("search_screens", [])]
            if "search" in capabilities
            else []
        )
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
        "runnable_search_screens": runnable,
    }


def _tagged(body: Any, ledger: Ledger, policy: LedgerPolicy, status_code: int = 200) -> Response:
    """``body`` with the ETag of ``ledger``'s version as ``policy``'s holder reads it: the
    definition's tag, answered by the ledger and by its fields alike (they are one
    document, and one ``If-Match`` guards a change of either)."""
    etag = document_etag(ledger_tag(ledger, policy.capabilities, policy.runnable_screens(ledger)))
    return Response(body, status=status_code, headers={"ETag": etag})


class LedgerListView(APIView):
    # Reading a definition needs no scope (as the departments): the access policy decides,
    # and a design-only token can read back what it writes (records:read opened records).
    required_scopes = {"POST": "ledgers:design"}

    @extend_schema(operation_id="v1_ledgers_list", responses={200: LedgerListSerializer})
    def get(self, request: Request) -> Response:
        ledgers = list(Ledger.objects.order_by("code"))
        rights = rights_by_ledger(request.user, ledgers)
        results = [
            ledger_out(ledger, *rights[ledger.pk]) for ledger in ledgers if rights[ledger.pk][0]
        ]
        return Response({"results": results})

    @extend_schema(
        request=LedgerDocument,
        parameters=[document_etag_header(201)],
        responses={201: LedgerOut, 400: ErrorShape, 403: ErrorShape},
    )
    def post(self, request: Request) -> Response:
        _known_keys_only(request.data)
        body = LedgerDocument(data=request.data)
        body.is_valid(raise_exception=True)
        ledger = ledger_create(actor=request.user, **body.validated_data)
        policy = policy_for(request.user, ledger)
        return _tagged(
            ledger_out(ledger, policy.capabilities, policy.runnable_screens(ledger)),
            ledger,
            policy,
            201,
        )


class LedgerDetailView(APIView):
    required_scopes = {"PUT": "ledgers:design", "PATCH": "ledgers:design"}

    @extend_schema(
        parameters=[document_etag_header(200)], responses={200: LedgerOut, 404: ErrorShape}
    )
    def get(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        return _tagged(
            ledger_out(ledger, policy.capabilities, policy.runnable_screens(ledger)), ledger, policy
        )

    @extend_schema(
        request=LedgerDocument,
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(200)],
        responses={200: LedgerOut, 400: ErrorShape, 403: ErrorShape, 412: ErrorShape},
    )
    def put(self, request: Request, code: str) -> Response:
        """Replace the whole definition: fields left out are kept as removed, never erased."""
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        expected = parse_tags_if_match(request)
        _known_keys_only(request.data)
        body = LedgerDocument(data={"code": code, **object_body(request)})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data["code"] != code:
            raise DefinitionInvalid({"code": ["台帳コードは変更できません。"]})
        # One change: a document refused after the name, retention and sensitivity were
        # written left them changed behind a 400.
        with transaction.atomic():
            # The tag is checked once, under the lock both hold until the commit.
            ledger = ledger_update(
                actor=request.user, ledger=ledger, name=data["name"], description=data["description"],
                category=data["category"], retention_years=data["retention_years"], sensitivity=data["sensitivity"],
                expected_tags=expected,
            )  # fmt: skip
            ledger = ledger_definition_replace(
                actor=request.user, ledger=ledger,
                document={"fields": data["fields"], "layout": data["layout"], "search_screens": data["search_screens"]},
            )  # fmt: skip
        return _tagged(
            ledger_out(ledger, policy.capabilities, policy.runnable_screens(ledger)), ledger, policy
        )

    @extend_schema(
        request=LedgerPatchDocument,
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(200)],
        responses={200: LedgerOut, 400: ErrorShape, 412: ErrorShape},
        description=(
            "名称・説明・分類・保存年限・機密区分を変更します。code・fields・layout・"
            "search_screens は読み込んだままなら受け付け、変えると 400 です（定義は PUT、"
            "項目は …/fields/ で変更します）。"
        ),
    )
    def patch(self, request: Request, code: str) -> Response:
        """Change name, description, category, retention or sensitivity. The rest of the
        document is taken only as it is (a document read back and sent whole): a changed
        ``code``, ``fields``, ``layout`` or ``search_screens`` was ignored with a 200, so a
        field added by PATCH was never added and the client told it was."""
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        expected = parse_tags_if_match(request)
        _known_keys_only(request.data)
        body = LedgerDocument(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data.get("code", code) != code:
            raise DefinitionInvalid({"code": ["台帳コードは変更できません。"]})
        current = ledger_out(ledger, policy.capabilities, policy.runnable_screens(ledger))
        unchangeable = {
            key: [
                "PATCH では変更できません。定義全体は PUT で、項目は …/fields/ で変更してください。"
            ]
            for key in ("fields", "layout", "search_screens")
            if key in request.data and request.data[key] != current[key]
        }
        if unchangeable:
            raise DefinitionInvalid(unchangeable)
        changes = {
            k: data[k]
            for k in ("name", "description", "category", "sensitivity")
            if k in request.data
        }
        if "retention_years" in request.data:
            changes["retention_years"] = data["retention_years"]
        ledger = ledger_update(actor=request.user, ledger=ledger, expected_tags=expected, **changes)
        return _tagged(
            ledger_out(ledger, policy.capabilities, policy.runnable_screens(ledger)), ledger, policy
        )


class FieldListView(APIView):
    # Reading a definition needs no scope (as the departments): the access policy decides,
    # and a design-only token can read back what it writes (records:read opened records).
    required_scopes = {"POST": "ledgers:design"}

    @extend_schema(
        operation_id="v1_ledgers_fields_list",
        parameters=[document_etag_header(200)],
        responses={200: FieldListSerializer, 404: ErrorShape},
    )
    def get(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        return _tagged({"results": [field_out(f) for f in ledger.fields()]}, ledger, policy)

    @extend_schema(
        request=FieldSerializer,
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(201)],
        responses={201: FieldSerializer, 400: ErrorShape, 412: ErrorShape},
    )
    def post(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        ledger = field_add(
            actor=request.user, ledger=ledger, field=object_body(request),
            expected_tags=parse_tags_if_match(request),
        )  # fmt: skip
        field = next(f for f in ledger.fields() if f["key"] == request.data.get("key"))
        return _tagged(field_out(field), ledger, policy, status.HTTP_201_CREATED)


class FieldDetailView(APIView):
    required_scopes = {
        "PATCH": "ledgers:design",
        "PUT": "ledgers:design",
        "DELETE": "ledgers:design",
    }

    @extend_schema(
        parameters=[document_etag_header(200)],
        responses={200: FieldSerializer, 400: ErrorShape, 404: ErrorShape},
    )
    def get(self, request: Request, code: str, key: str) -> Response:
        ledger, policy = ledger_for(request, code)
        field = next((f for f in ledger.fields() if f["key"] == key), None)
        if field is None:
            raise FieldNotFound("項目が見つかりません。", detail={"key": key})
        return _tagged(field_out(field), ledger, policy)

    @extend_schema(
        request=FieldSerializer(partial=True),
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(200)],
        responses={200: FieldSerializer, 400: ErrorShape, 404: ErrorShape, 412: ErrorShape},
        description=(
            "項目の定義のうち、変える部分だけを送ります（PUT も同じ）。If-Match には台帳の"
            "定義の ETag（台帳・項目の読み込みで返るもの）を送ります。"
        ),
    )
    def patch(self, request: Request, code: str, key: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        ledger = field_update(
            actor=request.user, ledger=ledger, key=key, changes=object_body(request),
            expected_tags=parse_tags_if_match(request),
        )  # fmt: skip
        return _tagged(
            field_out(next(f for f in ledger.fields() if f["key"] == key)), ledger, policy
        )

    put = patch

    @extend_schema(
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(204)],
        responses={204: None, 400: ErrorShape, 412: ErrorShape},
    )
    def delete(self, request: Request, code: str, key: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        ledger = field_remove(
            actor=request.user, ledger=ledger, key=key, expected_tags=parse_tags_if_match(request)
        )
        return _tagged(None, ledger, policy, status.HTTP_204_NO_CONTENT)


class GrantListView(APIView):
    required_scopes = {"GET": "ledgers:design", "PUT": "ledgers:design"}

    @extend_schema(
        parameters=[document_etag_header(200)], responses={200: GrantSerializer(many=True)}
    )
    def get(self, request: Request, code: str) -> Response:
        ledger, policy = ledger_for(request, code)
        policy.require("design")
        described = grants_describe(ledger)
        return Response(described, headers={"ETag": document_etag(grants_tag(described))})

    @extend_schema(
        request=GrantSerializer(many=True),
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(200)],
        responses={200: GrantSerializer(many=True), 400: ErrorShape, 412: ErrorShape},
        description=(
            "権限の一覧を丸ごと置き換えます。If-Match に読み込んだときの ETag を付けてください"
            "（付けないと、その後に他の人が外した権限を、読み込んだ一覧のとおりに戻します）。"
        ),
    )
    def put(self, request: Request, code: str) -> Response:
        ledger, _policy = ledger_for(request, code)
        if not isinstance(request.data, list):
            raise DefinitionInvalid({"grants": ["権限は配列で指定してください。"]})
        rows = grants_replace(
            actor=request.user, ledger=ledger, grants=request.data,
            expected_tags=parse_tags_if_match(request),
        )  # fmt: skip
        described = [grant_describe(g) for g in rows]
        return Response(described, headers={"ETag": document_etag(grants_tag(described))})
