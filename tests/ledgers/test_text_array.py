"""``pg_text_array`` writes the literal PostgreSQL reads back as the same list."""

from __future__ import annotations

from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgers.records.services import pg_text_array

# Keys and normalised values never hold control characters (normalisation removes them).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(TEXT, max_size=8))
def test_literal_round_trips_through_postgresql(db: None, values: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [pg_text_array(values)])
        assert cursor.fetchone()[0] == values
