"""URLs of a city's host (<slug>.BASE_DOMAIN): staff sign-in and the city's pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from daicho import views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
