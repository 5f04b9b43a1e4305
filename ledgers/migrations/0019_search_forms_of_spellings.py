"""Search forms recomputed after the normalisation learnt spellings of one sound (ヴァ = バ,
ヂ = ジ, ヅ = ズ, ヰ = イ, ヱ = エ), long vowels (オーノ = オウノ = オオノ), 之・ノ・の between
kanji and addresses without 大字 and 字.

Superseded by ``0021``, which recomputes every record's and past value's search forms with
these folds and the ones learnt since (ヲ = オ, 乃, a name's parts folded alone), in one
pass: a city ran two passes over all its records otherwise. A database where this one ran
already is recomputed by ``0021`` all the same.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0018_apitoken_issued_with_second_factor")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
