"""POST /api/v1/auth/token/ and GET /api/v1/me/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledgers.access.policy import active_memberships, is_city_admin
from ledgers.api.common import ErrorShape
from ledgers.api.tokens.services import SCOPES, token_issue
from ledgers.audit.services import audit_record


class TokenRequest(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=512, trim_whitespace=False)
    otp = serializers.CharField(required=False, allow_blank=True, max_length=16)
    scopes = serializers.ListField(child=serializers.CharField(), required=False)
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=366)
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)


class TokenResponse(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    scopes = serializers.ListField(child=serializers.CharField())


def _second_factor_ok(user: Any, code: str) -> bool | None:
    """None when the user has no confirmed device (and the city does not require one)."""
    try:
        from django_otp import devices_for_user
    except ImportError:  # two-factor sign-in not installed
        return None
    devices = list(devices_for_user(user, confirmed=True))
    required = _city_requires_2fa()
    if not devices:
        return False if required else None
    return any(device.verify_token(code) for device in devices) if code else False


def _city_requires_2fa() -> bool:
    try:
        from daicho.accounts.models import CitySecuritySettings  # type: ignore[attr-defined]
    except ImportError:
        return False
    settings = CitySecuritySettings.objects.first()
    return bool(settings and settings.require_2fa)


class TokenView(APIView):
    """Exchange a staff account's sign-in for a personal API token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    @extend_schema(
        request=TokenRequest, responses={201: TokenResponse, 400: ErrorShape, 401: ErrorShape}
    )
    def post(self, request: Request) -> Response:
        body = TokenRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            raise exceptions.AuthenticationFailed("ユーザー名またはパスワードが正しくありません。")
        second = _second_factor_ok(user, data.get("otp", ""))
        if second is False:
            audit_record(actor=user, action="auth.2fa_failed", details={"via": "api"})
            raise exceptions.AuthenticationFailed(
                "二要素認証のコード（otp）が必要か、正しくありません。"
            )
        issued = token_issue(
            actor=user, user=user, scopes=data.get("scopes") or ["*"], name=data.get("name", ""),
            lifetime=timedelta(days=data.get("expires_in_days", 90)),
        )  # fmt: skip
        return Response(
            {
                "token": issued.token,
                "expires_at": issued.record.expires_at,
                "scopes": issued.record.scopes,
            },
            status=status.HTTP_201_CREATED,
        )


class MembershipOut(serializers.Serializer):
    department = serializers.CharField()
    department_name = serializers.CharField()
    role = serializers.CharField()
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(allow_null=True)


class MeResponse(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField()
    is_city_admin = serializers.BooleanField()
    departments = serializers.ListField(child=serializers.CharField())
    roles = serializers.ListField(child=serializers.CharField())
    memberships = MembershipOut(many=True)
    scopes = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeResponse})
    def get(self, request: Request) -> Response:
        user = request.user
        memberships = active_memberships(user)
        token = request.auth if hasattr(request.auth, "scopes") else None
        return Response(
            {
                "username": user.username,
                "display_name": user.display_name,
                "is_city_admin": is_city_admin(user, memberships),
                "departments": sorted({m.department.code for m in memberships}),
                "roles": sorted({m.role for m in memberships}),
                "memberships": [
                    {
                        "department": m.department.code,
                        "department_name": m.department.name,
                        "role": m.role,
                        "valid_from": m.valid_from,
                        "valid_to": m.valid_to,
                    }
                    for m in memberships
                ],
                "scopes": token.scopes if token is not None else sorted([*SCOPES, "*"]),
            }
        )
