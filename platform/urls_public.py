"""URLs of the public host (BASE_DOMAIN): the operator admin only. No city data here."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Daicho 運用管理"
admin.site.site_title = "Daicho 運用管理"
admin.site.index_title = "自治体の管理"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
