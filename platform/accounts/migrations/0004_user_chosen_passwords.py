"""Every password someone else chose for an account, not only the last one.

The one hash of ``chosen_password`` moves into the list (an UPDATE of the accounts with
one: a city's staff, no table rewrite); adding an empty array default and dropping a
column are changes of the catalogue only.
"""

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_chosen_password"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="chosen_passwords",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=128),
                blank=True,
                default=list,
                editable=False,
                size=None,
                verbose_name="他者が設定したパスワード（ハッシュ）",
            ),
        ),
        migrations.RunSQL(
            sql="UPDATE accounts_user SET chosen_passwords = ARRAY[chosen_password]"
            " WHERE chosen_password <> ''",
            reverse_sql="UPDATE accounts_user"
            " SET chosen_password = chosen_passwords[cardinality(chosen_passwords)]"
            " WHERE cardinality(chosen_passwords) > 0",
        ),
        migrations.RemoveField(
            model_name="user",
            name="chosen_password",
        ),
    ]
