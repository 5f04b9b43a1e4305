"""URLs of a city's host (<slug>.BASE_DOMAIN): staff sign-in and the city's pages."""

from django.urls import include, path

from daicho import views

# A server error under /api/ answers in the API's error shape, not Django's HTML page.
handler500 = views.server_error

urlpatterns = [
    path("", views.home, name="home"),
    # Sign-in (password, then a code when 2FA is set up), sign-out, 2FA set-up, security.
    path("accounts/", include("daicho.accounts.urls")),
    path("api/", include("ledgers.api.urls")),
]
