"""POST /api/v1/auth/token/, the caller's tokens (/api/v1/auth/tokens/) and GET /api/v1/me/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from daicho.accounts.exceptions import TwoFactorCodeInvalid, TwoFactorThrottled
from daicho.accounts.models import Role
from daicho.accounts.selectors import confirmed_devices, security_settings_get
from daicho.accounts.services import (
    second_factor_name,
    sign_in_address_success,
    two_factor_verify,
)
from ledgers.access.policy import active_memberships, is_city_admin
from ledgers.api.common import (
    AuthenticationRefused,
    BearerTokenAuthentication,
    WholeNumberField,
    refuse_unknown_parameters,
    request_token,
)
from ledgers.api.errors import ErrorShape
from ledgers.api.schema import DocumentedChoice, scope_choices
from ledgers.api.tokens.exceptions import TokenAccountChanged
from ledgers.api.tokens.models import ApiToken
from ledgers.api.tokens.services import (
    ALL,
    SCOPES,
    token_has_scope,
    token_issue,
    token_request_check,
    token_revoke,
    token_state,
    tokens_of,
)
from ledgers.exceptions import AccessDenied, LedgerError


class TokenRequest(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=512, trim_whitespace=False)
    otp = serializers.CharField(required=False, allow_blank=True, max_length=16)
    # Checked before the password, and an unknown scope is named back in the error: of any
    # length or number, anyone could send 100 kB here and get 200 kB back.
    scopes = serializers.ListField(
        child=DocumentedChoice(choices=scope_choices, max_length=32), required=False, max_length=16
    )
    expires_in_days = WholeNumberField(
        digit_strings=True, required=False, min_value=1, max_value=366
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)


class TokenResponse(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    scopes = serializers.ListField(child=DocumentedChoice(choices=scope_choices))


def _check_second_factor(request: Request, user: Any, code: str) -> str | None:
    """A user with a confirmed device, or in a city that requires 2FA, must give ``otp``;
    the kind of device that accepted it (recorded on the token), None when none was asked."""
    devices = confirmed_devices(user)
    if not devices and not security_settings_get().require_2fa:
        return None
    if not devices:
        raise exceptions.AuthenticationFailed(
            "この自治体では二要素認証が必須です。画面から認証アプリを登録してください。"
        )
    if not code:
        raise exceptions.AuthenticationFailed("二要素認証のコード（otp）を指定してください。")
    try:
        device = two_factor_verify(user=user, token=code, request=request._request)
    except (TwoFactorCodeInvalid, TwoFactorThrottled):
        raise exceptions.AuthenticationFailed("二要素認証のコードが正しくありません。") from None
    return second_factor_name(device)


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
        # Left out, every scope; an empty list asks for none and is refused
        # (``token_request_check``): it was read as left out, a ``*`` token.
        scopes = data.get("scopes", [ALL])
        lifetime = timedelta(days=data.get("expires_in_days", 90))
        # What the request asks for is checked before the password and the second factor
        # (it tells nothing of the account): checked after them, a typo in the scopes used
        # up the one-time code the request carried.
        token_request_check(scopes=scopes, lifetime=lifetime, name=data.get("name", ""))
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            raise exceptions.AuthenticationFailed("ユーザー名またはパスワードが正しくありません。")
        if user.must_change_password:
            # Someone else chose this password (the operator, a city administrator): no
            # token until its owner has changed it on the sign-in screen.
            raise exceptions.AuthenticationFailed(
                "初期パスワードを変更してから発行してください（画面の「パスワードの変更」）。"
            )
        second_factor = _check_second_factor(request, user, data.get("otp", ""))
        try:
            issued = token_issue(
                actor=user, user=user, scopes=scopes, name=data.get("name", ""),
                lifetime=lifetime, second_factor=second_factor,
            )  # fmt: skip
        except TokenAccountChanged as refused:
            # Reset or deactivated since the password was checked: as a wrong password.
            raise AuthenticationRefused(refused) from None
        # As a sign-in on the screen: this username's failures from here are forgiven.
        sign_in_address_success(request=request._request, username=data["username"])
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
    role = DocumentedChoice(choices=lambda: Role.choices)
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(allow_null=True)


class MeResponse(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField()
    is_city_admin = serializers.BooleanField()
    departments = serializers.ListField(child=serializers.CharField())
    roles = serializers.ListField(child=DocumentedChoice(choices=lambda: Role.choices))
    memberships = MembershipOut(many=True)
    scopes = serializers.ListField(child=DocumentedChoice(choices=scope_choices))


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


class TokenNotFound(LedgerError):
    code = "ERROR_TOKEN_DOES_NOT_EXIST"
    status = 404


class TokenOut(serializers.Serializer):
    prefix = serializers.CharField(
        help_text="識別子（トークンの先頭、dch_ の後ろ）。秘密の部分は二度と表示されない"
    )
    name = serializers.CharField(allow_blank=True)
    username = serializers.CharField()
    scopes = serializers.ListField(child=DocumentedChoice(choices=scope_choices))
    state = serializers.ChoiceField(choices=["active", "expired", "revoked"])
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    issued_with_second_factor = serializers.BooleanField(
        help_text="二要素認証のコードを付けて発行されたか。付けずに発行されたトークンは、"
        "自治体が二要素認証を必須にするか本人が認証アプリを設定すると使えなくなる"
    )
    issued_via = serializers.CharField(
        allow_null=True,
        help_text="運用者がサーバーで発行したトークンはそのコマンド名"
        "（manage.py issue_api_token）。本人が発行したものは null",
    )
    current = serializers.BooleanField(help_text="この要求に使われているトークンか")


class TokenListResponse(serializers.Serializer):
    results = TokenOut(many=True)


def _token_out(token: ApiToken, username: str, current: ApiToken | None, now: Any) -> dict:
    return {
        "prefix": token.prefix,
        "name": token.name,
        "username": username,
        "scopes": token.scopes,
        "state": token_state(token, now),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
        "issued_with_second_factor": token.issued_with_second_factor,
        "issued_via": token.issued_via or None,
        "current": current is not None and current.pk == token.pk,
    }


def _may_manage_others(request: Request) -> bool:
    """Another staff member's tokens: a city administrator, by a session or a token with
    ``staff:admin``."""
    return token_has_scope(request_token(request), "staff:admin") and is_city_admin(request.user)


class TokenListView(APIView):
    """The caller's own tokens (any scope may read them); ``?username=`` another staff
    member's, for a city administrator with ``staff:admin``. Never the secret part."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="v1_auth_tokens_list",
        parameters=[
            OpenApiParameter(
                "username", str, required=False,
                description="他の職員のトークン（自治体管理者・staff:admin スコープ）",
            )
        ],
        responses={200: TokenListResponse, 403: ErrorShape, 404: ErrorShape},
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        refuse_unknown_parameters(request.query_params, ("username",))
        username = request.query_params.get("username")
        user = request.user
        if username and username != user.username:
            if not _may_manage_others(request):
                raise AccessDenied(
                    "他の職員のトークンを扱えるのは、staff:admin スコープを持つ自治体管理者です。"
                )
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise TokenNotFound("職員が見つかりません。", detail={"username": username})
        current, now = request_token(request), timezone.now()
        return Response(
            {"results": [_token_out(t, user.username, current, now) for t in tokens_of(user)]}
        )


class TokenDetailView(APIView):
    """Revoke a token: one's own (with any scope: a token may revoke itself), or, for a
    city administrator with ``staff:admin``, anyone's in the city. A token the caller may
    not manage answers exactly like one that does not exist (404)."""

    permission_classes = [IsAuthenticated]

    def _token(self, request: Request, prefix: str) -> ApiToken:
        token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
        if token is not None and (token.user_id == request.user.pk or _may_manage_others(request)):
            return token
        raise TokenNotFound("トークンが見つかりません。", detail={"prefix": prefix})

    @extend_schema(responses={200: TokenOut, 404: ErrorShape})
    def get(self, request: Request, prefix: str) -> Response:
        token = self._token(request, prefix)
        return Response(
            _token_out(token, token.user.username, request_token(request), timezone.now())
        )

    @extend_schema(responses={204: None, 404: ErrorShape})
    def delete(self, request: Request, prefix: str) -> Response:
        token_revoke(actor=request.user, token=self._token(request, prefix))
        return Response(status=status.HTTP_204_NO_CONTENT)
