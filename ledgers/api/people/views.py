"""Departments and staff: /api/v1/departments/ and /api/v1/staff/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from daicho.accounts.models import Department, Role
from ledgers.access.staff import (
    OWN_CHANGE_UNCHECKED,
    DirectoryInvalid,
    department_create,
    department_describe,
    department_tag,
    department_update,
    require_city_admin,
    staff_create,
    staff_describe,
    staff_tag,
    staff_update,
)
from ledgers.api.common import object_body
from ledgers.api.errors import (
    DOCUMENT_IF_MATCH,
    ErrorShape,
    document_etag,
    document_etag_header,
    parse_tags_if_match,
)
from ledgers.exceptions import LedgerError

User = get_user_model()


class NotFound(LedgerError):
    code = "ERROR_NOT_FOUND"
    status = 404


class DepartmentSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=100)
    active = serializers.BooleanField(required=False, default=True)


class MembershipSerializer(serializers.Serializer):
    # A department's code is at most 64 characters (Department.code): an unknown one is
    # named back in the error, and one of any length made an answer and a log line as long.
    department = serializers.CharField(max_length=64)
    # DRF's own message names the value back: a role of any length made an answer as long.
    role = serializers.ChoiceField(
        choices=[r.value for r in Role],
        error_messages={
            "invalid_choice": f"役割は {', '.join(sorted(r.value for r in Role))} のいずれかにしてください。"
        },
    )
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)


class StaffOut(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField(allow_blank=True)
    active = serializers.BooleanField()
    memberships = MembershipSerializer(many=True)


class StaffSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    display_name = serializers.CharField(
        max_length=150, required=False, allow_blank=True, default=""
    )
    password = serializers.CharField(write_only=True, required=False, trim_whitespace=False)
    active = serializers.BooleanField(required=False)
    memberships = MembershipSerializer(many=True, required=False)


class StaffChangeSerializer(StaffSerializer):
    current_password = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=512,
        help_text="自分のパスワードを変更するときの現在のパスワード（画面の「パスワードの変更」と"
        "同じく、誤りはログインの失敗として数えられます）。他の職員のパスワードの再設定には不要",
    )  # fmt: skip


class DepartmentListSerializer(serializers.Serializer):
    results = DepartmentSerializer(many=True)


class StaffListSerializer(serializers.Serializer):
    results = StaffOut(many=True)


def _department_answer(department: Department, status_code: int = 200) -> Response:
    """A department with its version tag (``ETag``), for ``If-Match`` on its changes."""
    etag = document_etag(department_tag(department))
    return Response(department_describe(department), status=status_code, headers={"ETag": etag})


def _staff_answer(user: Any, status_code: int = 200) -> Response:
    """A staff member with their version tag (``ETag``), for ``If-Match`` on changes."""
    described = staff_describe(user)
    etag = document_etag(staff_tag(described))
    return Response(described, status=status_code, headers={"ETag": etag})


@sensitive_variables("data")
def _own_password_checked(request: Request, user: Any, data: dict[str, Any]) -> str | None:
    """The stored hash the caller's ``current_password`` was checked against, for a change
    of its own password (``staff_update`` refuses one without it); None otherwise. Checked
    through ``authenticate()`` with the request, as the screen's ``/accounts/password/``
    does: a wrong one counts towards the sign-in lockout and is audited
    (``auth.login_failed``), so a captured token is no way to guess the password either."""
    if data.get("password") is None or user.pk != request.user.pk:
        return None
    current = data.get("current_password")
    if not current:
        return None
    found = authenticate(request._request, username=user.get_username(), password=current)
    if found is None or found.pk != user.pk:
        raise DirectoryInvalid({"current_password": [OWN_CHANGE_UNCHECKED]})
    return found.password


class DepartmentListView(APIView):
    required_scopes = {"POST": "staff:admin"}

    @extend_schema(operation_id="v1_departments_list", responses={200: DepartmentListSerializer})
    def get(self, request: Request) -> Response:
        return Response(
            {"results": [department_describe(d) for d in Department.objects.order_by("code")]}
        )

    @extend_schema(
        request=DepartmentSerializer,
        parameters=[document_etag_header(201)],
        responses={201: DepartmentSerializer, 400: ErrorShape, 403: ErrorShape},
    )
    def post(self, request: Request) -> Response:
        body = DepartmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        department = department_create(
            actor=request.user, code=body.validated_data["code"], name=body.validated_data["name"],
            active=body.validated_data["active"],
        )  # fmt: skip
        return _department_answer(department, status.HTTP_201_CREATED)


class DepartmentDetailView(APIView):
    required_scopes = {"PATCH": "staff:admin", "PUT": "staff:admin"}

    def _get(self, code: str) -> Department:
        department = Department.objects.filter(code=code).first()
        if department is None:
            raise NotFound("課が見つかりません。")
        return department

    @extend_schema(
        parameters=[document_etag_header(200)],
        responses={200: DepartmentSerializer, 404: ErrorShape},
    )
    def get(self, request: Request, code: str) -> Response:
        return _department_answer(self._get(code))

    @extend_schema(
        request=DepartmentSerializer,
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(200)],
        responses={200: DepartmentSerializer, 403: ErrorShape, 412: ErrorShape},
    )
    def patch(self, request: Request, code: str) -> Response:
        department = self._get(code)
        body = DepartmentSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        if body.validated_data.get("code", code) != code:
            # A code cannot change: it was ignored, and the caller told 200.
            raise exceptions.ValidationError({"code": ["課コードは変更できません。"]})
        department = department_update(
            actor=request.user, department=department,
            name=body.validated_data.get("name"), active=body.validated_data.get("active"),
            expected_tags=parse_tags_if_match(request),
        )  # fmt: skip
        return _department_answer(department)

    @extend_schema(
        request=DepartmentSerializer(partial=True),
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(200)],
        responses={200: DepartmentSerializer, 403: ErrorShape, 412: ErrorShape},
        description="PATCH と同じく、指定した項目だけを変更します。",
    )
    def put(self, request: Request, code: str) -> Response:
        return self.patch(request, code)


class _CityAdminOnly:
    def _require_admin(self, request: Request, attempted: str, **target: str) -> None:
        require_city_admin(
            request.user, attempted=attempted, message="職員を管理できるのは自治体管理者です。",
            **target,
        )  # fmt: skip


class StaffListView(_CityAdminOnly, APIView):
    required_scopes = {"GET": "staff:admin", "POST": "staff:admin"}

    @extend_schema(
        operation_id="v1_staff_list", responses={200: StaffListSerializer, 403: ErrorShape}
    )
    def get(self, request: Request) -> Response:
        self._require_admin(request, "staff.list")
        return Response({"results": [staff_describe(u) for u in User.objects.order_by("username")]})

    @extend_schema(
        request=StaffSerializer,
        parameters=[document_etag_header(201)],
        responses={201: StaffOut, 400: ErrorShape, 403: ErrorShape},
    )
    def post(self, request: Request) -> Response:
        body = StaffSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = staff_create(
            actor=request.user, username=data["username"], password=data.get("password", ""),
            display_name=data.get("display_name", ""), memberships=data.get("memberships", []),
            active=data.get("active", True),
        )  # fmt: skip
        return _staff_answer(user, status.HTTP_201_CREATED)


class StaffDetailView(_CityAdminOnly, APIView):
    required_scopes = {
        "GET": "staff:admin",
        "PATCH": "staff:admin",
        "PUT": "staff:admin",
        "DELETE": "staff:admin",
    }

    def _user(self, username: str) -> Any:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise NotFound("職員が見つかりません。")
        return user

    @extend_schema(
        parameters=[document_etag_header(200)],
        responses={200: StaffOut, 403: ErrorShape, 404: ErrorShape},
    )
    def get(self, request: Request, username: str) -> Response:
        self._require_admin(request, "staff.view", username=username)
        return _staff_answer(self._user(username))

    @extend_schema(
        request=StaffChangeSerializer,
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(200)],
        responses={200: StaffOut, 400: ErrorShape, 403: ErrorShape, 412: ErrorShape},
    )
    def patch(self, request: Request, username: str) -> Response:
        self._require_admin(request, "staff.update", username=username)
        user = self._user(username)
        given = object_body(request)
        if given.get("username", username) != username:
            # Read for the checks and ignored for the change, with a 200: it is no rename.
            raise exceptions.ValidationError({"username": ["ユーザー名は変更できません。"]})
        body = StaffChangeSerializer(data={**given, "username": username}, partial=True)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = staff_update(
            actor=request.user, user=user, display_name=data.get("display_name"),
            password=data.get("password"), memberships=data.get("memberships"), active=data.get("active"),
            expected_tags=parse_tags_if_match(request),
            own_password_checked=_own_password_checked(request, user, data),
        )  # fmt: skip
        return _staff_answer(user)

    @extend_schema(
        request=StaffChangeSerializer(partial=True),
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(200)],
        responses={200: StaffOut, 400: ErrorShape, 403: ErrorShape, 412: ErrorShape},
        description="PATCH と同じく、指定した項目だけを変更します。",
    )
    def put(self, request: Request, username: str) -> Response:
        return self.patch(request, username)

    @extend_schema(
        parameters=[DOCUMENT_IF_MATCH, document_etag_header(200)],
        responses={200: StaffOut, 403: ErrorShape, 412: ErrorShape},
    )
    def delete(self, request: Request, username: str) -> Response:
        """Deactivate (staff accounts are never deleted: the audit trail names them)."""
        self._require_admin(request, "staff.update", username=username)
        user = staff_update(
            actor=request.user, user=self._user(username), active=False,
            expected_tags=parse_tags_if_match(request),
        )  # fmt: skip
        return _staff_answer(user)
