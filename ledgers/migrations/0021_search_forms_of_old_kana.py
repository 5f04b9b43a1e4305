"""Search forms recomputed after the normalisation learnt 旧仮名 ヲ = オ, 乃 between kanji and a
person's name with its parts folded alone.

Superseded by ``0026``, which recomputes every record's and past value's search forms with
these folds and the ones learnt since (kanji numerals after 番地 and before 条・線・地割), in
one pass: a city ran two passes over all its records otherwise. A database where this one
ran already is recomputed by ``0026`` all the same.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0020_apitoken_issued_via")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
