"""Personal API tokens: per staff account, scoped, expiring, revocable, stored hashed."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class ApiToken(models.Model):
    """A token for other systems (住基システム, RPA, BI) acting as one staff account.

    Only ``prefix`` (to find the row) and a SHA-256 of the secret are stored; the token
    itself is shown once, when it is issued. It lives in the city's schema, so it means
    nothing on another city's host.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField("名前", max_length=100, blank=True)
    prefix = models.CharField("識別子", max_length=16, unique=True)
    key_hash = models.CharField("ハッシュ", max_length=64)
    scopes = ArrayField(models.CharField(max_length=32), verbose_name="スコープ", default=list)
    created_at = models.DateTimeField("発行日時", auto_now_add=True)
    expires_at = models.DateTimeField("有効期限")
    revoked_at = models.DateTimeField("失効日時", null=True, blank=True)
    last_used_at = models.DateTimeField("最終利用日時", null=True, blank=True)
    # Issued with a code from its owner's authenticator app or a backup code. Without one,
    # the token works only while its owner need not give one (the city does not require
    # 2FA, the owner has set up no app): a token got with a stolen password ends there.
    issued_with_second_factor = models.BooleanField("二要素認証で発行", default=False)
    # "" when its owner asked for it; the command's name when a server operator issued it
    # (``manage.py issue_api_token``): listed, so that its owner and the city's
    # administrators tell it from the owner's own.
    issued_via = models.CharField("発行元", max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "APIトークン"
        verbose_name_plural = "APIトークン"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"
