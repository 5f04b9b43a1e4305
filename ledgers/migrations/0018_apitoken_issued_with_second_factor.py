"""Whether a token was issued with its owner's second factor.

Tokens issued before are marked so when the evidence says they must have been: the owner
then had confirmed backup codes (created with the authenticator app, in the same
transaction, and removed with it), and POST /api/v1/auth/token/ asked for a code of every
user with a confirmed device. The others count as issued with the password alone: they
stop working where the owner must now give a second factor. One UPDATE of the city's
tokens; adding a column with a constant default rewrites no table.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledgers", "0017_search_forms_of_addresses"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="issued_with_second_factor",
            field=models.BooleanField(default=False, verbose_name="二要素認証で発行"),
        ),
        migrations.RunSQL(
            sql="""
                UPDATE ledgers_apitoken AS token SET issued_with_second_factor = true
                WHERE EXISTS (
                    SELECT 1 FROM otp_static_staticdevice AS device
                    WHERE device.user_id = token.user_id AND device.confirmed
                      AND device.created_at <= token.created_at
                )
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
