"""/api/v1/ on a city's host (the host chooses the city), OpenAPI at /api/schema/."""

from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, include, path, re_path, resolve

from daicho.views import api_error_json
from ledgers.api.audit.views import AuditEventListView, AuditVerifyView
from ledgers.api.auth.views import MeView, TokenDetailView, TokenListView, TokenView
from ledgers.api.docs import DocsView, SchemaView
from ledgers.api.ledgers.views import (
    FieldDetailView,
    FieldListView,
    GrantListView,
    LedgerDetailView,
    LedgerListView,
)
from ledgers.api.people.views import (
    DepartmentDetailView,
    DepartmentListView,
    StaffDetailView,
    StaffListView,
)
from ledgers.api.records.views import (
    RecordBulkView,
    RecordDetailView,
    RecordDiffView,
    RecordListView,
    RecordRestoreView,
    RecordVersionListView,
    RecordVersionView,
)
from ledgers.api.search.views import SearchView

RECORD = "v1/ledgers/<slug:code>/records/<str:record_id>/"


def api_not_found(request: HttpRequest) -> JsonResponse:
    """A path under /api/ that no route matches (a code that is not a slug, a typo). One
    that lacks only its final ``/`` says so: every route ends with one, and a client that
    left it out read a bare 404 as "no such ledger" (no redirect: a POST's body would not
    follow it)."""
    detail = {}
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/", getattr(request, "urlconf", None))
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = {"path": [f"URL の末尾に / を付けてください（{request.path_info}/）。"]}
    return api_error_json("ERROR_NOT_FOUND", "見つかりません。", 404, detail)


urlpatterns = [
    path("v1/auth/token/", TokenView.as_view(), name="api-token"),
    path("v1/auth/tokens/", TokenListView.as_view(), name="api-tokens"),
    path("v1/auth/tokens/<str:prefix>/", TokenDetailView.as_view(), name="api-token-detail"),
    path("v1/me/", MeView.as_view(), name="api-me"),
    path("v1/departments/", DepartmentListView.as_view(), name="api-departments"),
    path("v1/departments/<str:code>/", DepartmentDetailView.as_view(), name="api-department"),
    path("v1/staff/", StaffListView.as_view(), name="api-staff-list"),
    path("v1/staff/<str:username>/", StaffDetailView.as_view(), name="api-staff"),
    path("v1/ledgers/", LedgerListView.as_view(), name="api-ledgers"),
    path("v1/ledgers/<slug:code>/", LedgerDetailView.as_view(), name="api-ledger"),
    path("v1/ledgers/<slug:code>/fields/", FieldListView.as_view(), name="api-fields"),
    path("v1/ledgers/<slug:code>/fields/<slug:key>/", FieldDetailView.as_view(), name="api-field"),
    path("v1/ledgers/<slug:code>/grants/", GrantListView.as_view(), name="api-grants"),
    path("v1/ledgers/<slug:code>/records/", RecordListView.as_view(), name="api-records"),
    path("v1/ledgers/<slug:code>/records/bulk/", RecordBulkView.as_view(), name="api-records-bulk"),
    path(RECORD, RecordDetailView.as_view(), name="api-record"),
    path(RECORD + "versions/", RecordVersionListView.as_view(), name="api-record-versions"),
    path(
        RECORD + "versions/<int:generation>/",
        RecordVersionView.as_view(),
        name="api-record-version",
    ),
    path(RECORD + "diff/", RecordDiffView.as_view(), name="api-record-diff"),
    path(RECORD + "restore/", RecordRestoreView.as_view(), name="api-record-restore"),
    path("v1/ledgers/<slug:code>/search/<slug:screen>/", SearchView.as_view(), name="api-search"),
    path("v1/audit/events/", AuditEventListView.as_view(), name="api-audit-events"),
    path("v1/audit/verify/", AuditVerifyView.as_view(), name="api-audit-verify"),
    path("v1/", include("ledgers.api.webhooks.urls")),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    # Last: any other path under /api/ answers the API's error shape, not Django's HTML 404
    # (a line break too: "." matches none, and such a path fell through to HTML).
    re_path(r"^[\s\S]*$", api_not_found),
]
