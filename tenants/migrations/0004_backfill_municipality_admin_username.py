"""The first administrator's username of the cities opened before 0003 recorded it.

A repeated provisioning is compared with ``Municipality.admin_username`` (never with the
city's staff directory, which the operators' admin must not read); left empty, the
comparison was skipped for every city opened before, and a repeat with another username
answered "exists" for an administrator who was never created. The username is the one the
operator typed when the city was opened: the oldest city administrator of its schema.
"""

from django.db import migrations
from psycopg import sql


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    Municipality = apps.get_model("tenants", "Municipality")
    with schema_editor.connection.cursor() as cursor:
        for city in Municipality.objects.filter(admin_username="").exclude(schema_name="public"):
            cursor.execute("SELECT to_regclass(%s)", [f'"{city.schema_name}".accounts_user'])
            if cursor.fetchone()[0] is None:
                continue
            cursor.execute(
                sql.SQL(
                    "SELECT username FROM {}.accounts_user WHERE is_city_admin ORDER BY id LIMIT 1"
                ).format(sql.Identifier(city.schema_name))
            )
            row = cursor.fetchone()
            if row is not None:
                Municipality.objects.filter(pk=city.pk).update(admin_username=row[0])


class Migration(migrations.Migration):
    dependencies = [("tenants", "0003_municipality_admin_username")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
