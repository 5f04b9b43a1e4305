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

from daicho.accounts.exceptions import TwoFactorCodeInvalid, TwoFactorThrottled
from daicho.accounts.selectors import confirmed_devices, security_settings_get
from daicho.accounts.services import two_factor_verify
from ledgers.access.policy import active_memberships, is_city_admin
from ledgers.api.common import BearerTokenAuthentication
from ledgers.api.errors import ErrorShape
from ledgers.api.tokens.services import SCOPES, token_issue


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


def _check_second_factor(request: Request, user: Any, code: str) -> None:
    """A user with a confirmed device, or in a city that requires 2FA, must give ``otp``."""
    devices = confirmed_devices(user)
    if not devices and not security_settings_get().require_2fa:
        return
    if not devices:
        raise exceptions.AuthenticationFailed(
            "この自治体では二要素認証が必須です。画面から認証アプリを登録してください。"
        )
    if not code:
        raise exceptions.AuthenticationFailed("二要素認証のコード（otp）を指定してください。")
    try:
        two_factor_verify(user=user, token=code, request=request._request)
    except (TwoFactorCodeInvalid, TwoFactorThrottled):
        raise exceptions.AuthenticationFailed("二要素認証のコードが正しくありません。") from None


class TokenView(APIView):
    """Exchange a staff account's sign-in for a personal API token."""

    # Bearer keeps the 401 answer (DRF answers 403 without a WWW-Authenticate scheme).
    authentication_classes = [BearerTokenAuthentication]
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
        _check_second_factor(request, user, data.get("otp", ""))
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
