"""Sign-in and two-factor pages of a city's host, under /accounts/."""

from django.contrib.auth import views as auth_views
from django.urls import path

from daicho.accounts import views

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("login/verify/", views.sign_in_verify, name="login_verify"),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("2fa/", views.two_factor, name="two_factor"),
    path("2fa/remove/", views.two_factor_remove, name="two_factor_remove"),
    path("security/", views.security_settings, name="security_settings"),
    path("password/", views.password_change, name="password_change"),
]
