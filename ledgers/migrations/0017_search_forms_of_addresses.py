"""Search forms recomputed after the normalisation learnt 霞が関 = 霞ケ関 (ケ・ヶ・が・ガ between
kanji), address numbering (三丁目 = 3丁目, 3丁目1番2号 = 3-1-2, 1番地の2 = 1-2) and four more
variant pairs (桧 = 檜, 淺 = 浅, 靑 = 青, 驛 = 駅).

Superseded before its release by ``0019``, which recomputes every record's and past value's
search forms with these folds and the ones learnt since, in one pass: a city ran two passes
over all its records otherwise, and this one folded past values to their search form only,
losing the form as written that ``0019`` keeps (``ledgers.search.normalize.name_forms``). A
database where it ran already is recomputed by ``0019`` all the same.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0016_webhook_owner_is_creator")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
