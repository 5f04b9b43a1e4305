"""Who issued a token: "" for its owner, the command's name for a server operator.

Tokens issued before by the operator's ``manage.py issue_api_token`` are marked from their
``auth.token_issued`` event (no actor, ``via`` in its details), the live ones only: found
through ``audit_actor_idx`` (the events with no actor), one UPDATE of the city's tokens.
Adding a column with a constant default rewrites no table.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0019_search_forms_of_spellings")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="issued_via",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="発行元"),
        ),
        migrations.RunSQL(
            sql="""
                UPDATE ledgers_apitoken AS token SET issued_via = left(event.details ->> 'via', 64)
                FROM ledgers_auditevent AS event
                WHERE event.actor_id IS NULL AND event.action = 'auth.token_issued'
                  AND event.details ? 'via' AND event.details ->> 'token' = token.prefix
                  AND token.revoked_at IS NULL AND token.expires_at > now()
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
