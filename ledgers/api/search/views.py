"""POST /api/v1/ledgers/{code}/search/{screen}/: run a search screen."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledgers.api.common import ClosedBodySerializer, WholeNumberField
from ledgers.api.errors import ErrorShape
from ledgers.api.output import ledger_for
from ledgers.search.services import search_run


class SearchRequest(ClosedBodySerializer):
    criteria = serializers.DictField(
        help_text='{項目のパス: 値}。日付の範囲は「昭和40年代」や {"from", "to"}'
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    page = WholeNumberField(
        digit_strings=True, required=False, min_value=1, max_value=1_000_000, default=1
    )
    page_size = WholeNumberField(digit_strings=True, required=False, min_value=1, max_value=1000)


class MatchSerializer(serializers.Serializer):
    field = serializers.CharField()
    generation = serializers.IntegerField()
    generations = serializers.ListField(child=serializers.IntegerField(), required=False)


class HitSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    generation = serializers.IntegerField()
    matched = MatchSerializer(many=True)
    values = serializers.DictField()


class SearchResponse(serializers.Serializer):
    results = HitSerializer(many=True)
    next = serializers.IntegerField(allow_null=True, help_text="次のページ番号")
    screen = serializers.CharField()


class SearchView(APIView):
    required_scopes = {"POST": "records:read"}

    @extend_schema(
        request=SearchRequest,
        responses={200: SearchResponse, 400: ErrorShape, 403: ErrorShape, 404: ErrorShape},
    )
    def post(self, request: Request, code: str, screen: str) -> Response:
        ledger, policy = ledger_for(request, code)
        body = SearchRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = search_run(
            actor=request.user, ledger=ledger, screen_code=screen, criteria=data["criteria"],
            reason=data["reason"], page=data["page"], page_size=data.get("page_size"), policy=policy,
        )  # fmt: skip
        return Response(
            {
                "screen": screen,
                "results": [
                    {
                        "id": str(hit.record.pk),
                        "generation": hit.record.generation,
                        "matched": hit.matched,
                        "values": values,
                    }
                    for hit, values in zip(result.hits, result.shown_values(), strict=True)
                ],
                "next": result.page + 1 if result.has_next else None,
            }
        )
