"""pg_trgm and unaccent in the public schema, visible to every city through search_path."""

from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [TrigramExtension(), UnaccentExtension()]
