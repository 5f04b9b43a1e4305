"""Idempotency-Key: one row per create sent with a key, kept API_IDEMPOTENCY_HOURS (a new
empty table: nothing to rewrite in any city)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledgers", "0013_audit_shown_records_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="IdempotentRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=255, verbose_name="キー")),
                ("target", models.CharField(max_length=300, verbose_name="要求")),
                ("body_sha256", models.CharField(max_length=64, verbose_name="本文のハッシュ")),
                ("created_at", models.DateTimeField(verbose_name="受付日時")),
                ("status", models.PositiveSmallIntegerField(null=True, verbose_name="応答")),
                ("result", models.JSONField(null=True, verbose_name="結果")),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "再送防止キー",
                "verbose_name_plural": "再送防止キー",
                "indexes": [models.Index(fields=["created_at"], name="idempotent_request_created")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "key"), name="idempotent_request_unique"
                    )
                ],
            },
        ),
    ]
