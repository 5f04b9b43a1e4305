"""Japanese name search over a large city: service latency beside the raw-SQL floor.

Builds (in a throw-away database ``daicho_bench_search``) one city with a DV-style ledger
of ``--records`` people — realistic surname frequencies (佐藤 and 鈴木 common, 田 in many
names), variant kanji (髙, 﨑, 邊, 齋, 濱), kana in full and half width — through the bulk
service path, then ``--generations`` - 1 rounds of changes (surnames and addresses move,
as after a divorce or a move), so past-generation search has history to find.

Then runs a fixed mixed query set through ``search_run`` (policy, search, audit: what a
request pays) and the same conditions as raw SQL on the same indexes (the physical floor),
and prints p50/p95/p99 per query class with the ratio between them.

    python bench/search.py [--records 1000000] [--generations 3] [--repeat 30]

``--normaliser`` measures only the normalisation (no database): µs per distinct value of
the bench's people (names, readings, addresses) and of spellings that every fold acts on,
on the query side (one form) and the stored side (the forms indexed). ``--code PATH``
imports the normaliser of another checkout (the revision before a change) for an
interleaved comparison with the same inputs. ``--folds --code PATH`` lists what the
normaliser makes meet that ``PATH``'s did not (the false positives a fold may bring): in the
sample DV ledger, and in a list of readings given with ``--readings``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.common import bench_city, bench_database, drop_database  # noqa: E402

BENCH_DB = "daicho_bench_search"

# (kanji, kana, weight): frequent surnames first, as in Japan.
SURNAMES = [
    ("佐藤", "サトウ", 190), ("鈴木", "スズキ", 180), ("高橋", "タカハシ", 140), ("髙橋", "タカハシ", 20),
    ("田中", "タナカ", 130), ("伊藤", "イトウ", 110), ("渡辺", "ワタナベ", 100), ("渡邊", "ワタナベ", 15),
    ("山本", "ヤマモト", 100), ("中村", "ナカムラ", 100), ("小林", "コバヤシ", 100), ("加藤", "カトウ", 90),
    ("吉田", "ヨシダ", 90), ("山田", "ヤマダ", 80), ("佐々木", "ササキ", 70), ("山口", "ヤマグチ", 60),
    ("松本", "マツモト", 60), ("井上", "イノウエ", 55), ("木村", "キムラ", 50), ("林", "ハヤシ", 50),
    ("斎藤", "サイトウ", 45), ("齋藤", "サイトウ", 10), ("清水", "シミズ", 45), ("山崎", "ヤマザキ", 40),
    ("山﨑", "ヤマザキ", 8), ("森", "モリ", 40), ("池田", "イケダ", 35), ("橋本", "ハシモト", 35),
    ("阿部", "アベ", 35), ("石川", "イシカワ", 30), ("前田", "マエダ", 30), ("藤田", "フジタ", 28),
    ("小川", "オガワ", 27), ("岡田", "オカダ", 26), ("後藤", "ゴトウ", 25), ("長谷川", "ハセガワ", 25),
    ("村上", "ムラカミ", 24), ("近藤", "コンドウ", 23), ("濱田", "ハマダ", 5), ("浜田", "ハマダ", 15),
    ("沖", "オキ", 3), ("東海林", "ショウジ", 2),
]  # fmt: skip
GIVEN = [
    ("花子", "ハナコ"), ("太郎", "タロウ"), ("一郎", "イチロウ"), ("美咲", "ミサキ"), ("陽菜", "ヒナ"),
    ("蓮", "レン"), ("結衣", "ユイ"), ("大翔", "ヒロト"), ("さくら", "サクラ"), ("翔太", "ショウタ"),
    ("智子", "トモコ"), ("誠", "マコト"), ("恵子", "ケイコ"), ("健一", "ケンイチ"), ("直樹", "ナオキ"),
    ("彩", "アヤ"), ("真由美", "マユミ"), ("和也", "カズヤ"), ("優子", "ユウコ"), ("拓海", "タクミ"),
]  # fmt: skip
TOWNS = ["下連雀", "上連雀", "井の頭", "深大寺", "野崎", "北野", "新川", "中原", "牟礼", "大沢"]
FIELDS = [
    {"key": "name", "label": "氏名", "type": "person_name", "required": True, "sensitivity": "personal"},
    {"key": "birth_date", "label": "生年月日", "type": "date", "sensitivity": "personal"},
    {"key": "address", "label": "現住所", "type": "address", "sensitivity": "special_care"},
    {"key": "disclosure", "label": "照会可否", "type": "department_flags", "options": {"departments": ["shimin"]}},
]  # fmt: skip
SCREENS = [
    {"code": "latest", "name": "本人検索（最新）", "generations": "current", "max_results": 50,
     "criteria": [{"field": "name", "match": "contains"}, {"field": "birth_date", "match": "range"}]},
    {"code": "prefix", "name": "前方一致", "generations": "current", "max_results": 50,
     "criteria": [{"field": "name", "match": "prefix"}]},
    {"code": "past", "name": "本人検索（過去）", "generations": "all", "max_results": 50,
     "criteria": [{"field": "name", "match": "contains"}]},
]  # fmt: skip
_WEIGHTS = [w for _k, _r, w in SURNAMES]


def _half(kana: str) -> str:
    import unicodedata

    table = {unicodedata.normalize("NFKC", chr(c)): chr(c) for c in range(0xFF66, 0xFF9E)}
    return "".join(table.get(c, c) for c in kana)


def person(rng: random.Random) -> dict[str, Any]:
    family, family_kana, _w = rng.choices(SURNAMES, weights=_WEIGHTS)[0]
    given, given_kana = rng.choice(GIVEN)
    kana = f"{family_kana} {given_kana}"
    if rng.random() < 0.1:
        kana = _half(kana)  # typed on an old terminal
    return {
        "name": {"kanji": f"{family} {given}", "kana": kana},
        "birth_date": date(
            rng.randint(1935, 2015), rng.randint(1, 12), rng.randint(1, 28)
        ).isoformat(),
        "address": {
            "text": f"東京都三鷹市{rng.choice(TOWNS)}{rng.randint(1, 9)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
        },
        "disclosure": {"shimin": True},
    }


QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("name 3+ chars, kana, current", "latest", {"name": "ヤマダハナ"}),
    ("name 3+ chars, kanji, current", "latest", {"name": "佐藤花子"}),
    ("name 3+ chars, half-width kana", "latest", {"name": "ﾀﾅｶ ｲﾁﾛｳ"}),
    ("name 3+ chars, variant kanji", "latest", {"name": "高橋美咲"}),
    ("name 1-2 chars, common (田)", "latest", {"name": "田"}),
    ("name 1-2 chars, surname (佐藤)", "latest", {"name": "佐藤"}),
    ("name 1-2 chars, rare (沖)", "latest", {"name": "沖"}),
    ("name 1-2 chars, prefix (ス)", "prefix", {"name": "ス"}),
    ("name prefix 3+ (ハセガ)", "prefix", {"name": "ハセガ"}),
    ("all generations, 3+ chars", "past", {"name": "ヤマダハナコ"}),
    ("all generations, 2 chars", "past", {"name": "濱田"}),
    ("birth date + partial name", "latest", {"name": "ミサキ", "birth_date": "1980-05-05"}),
    ("birth date + partial name (和暦)", "latest", {"name": "タロウ", "birth_date": "昭和60年3月3日"}),
]  # fmt: skip


#: Spellings each fold acts on (long vowels, ヴ, 四つ仮名, 之, 大字), as names, readings and
#: addresses: the normaliser's work where it has the most to do.
SPELLINGS = {
    "name": ["大野 誠", "一之瀬 花子", "龍之介", "丸之内 太郎", "渡邉 ヱミ", "佐々木 ゐく"],
    "reading": ["オーノ マコト", "ｵｳﾉ ﾏｺﾄ", "ヴァイオリン", "ミヅキ ヂロウ", "さとー けーこ",
                "ヤマモト オサム", "イノウエ エリカ", "レヴュー"],
    "address": ["埼玉県比企郡嵐山町大字菅谷字東原123番地", "東京都千代田区丸之内一丁目1番1号",
                "三鷹市大字上連雀三丁目1番2号 コーポ緑 101号室", "沖縄県那覇市字安里1-2-3"],
}  # fmt: skip


def _normaliser_bench(code: str | None, repeat: int) -> None:
    """µs per value of the search normalisation, caches bypassed (each value once per
    pass, as a value the indexer meets for the first time)."""
    if code:
        sys.path.insert(0, code)
    import importlib

    normalize = importlib.import_module("ledgers.search.normalize")
    name = normalize.normalize_name
    text = getattr(normalize, "normalize_address", normalize.normalize_text)
    # The stored side: every form a value is indexed under (one before forms existed).
    name_forms = getattr(normalize, "name_forms", name)
    address_forms = getattr(normalize, "address_forms", text)
    rng = random.Random(20261128)
    people = [person(rng) for _ in range(20_000)]
    values = {
        "name": sorted({p["name"]["kanji"] for p in people}),
        "reading": sorted({p["name"]["kana"] for p in people}),
        "address": sorted({p["address"]["text"] for p in people}),
    }
    print(f"normaliser of {normalize.__file__}")
    print("| values | distinct | query side (µs) | stored side (µs) |")
    print("|---|---:|---:|---:|")
    for label, inputs in [
        *values.items(),
        *((f"{k} (spellings)", v) for k, v in SPELLINGS.items()),
    ]:
        query, stored = (text, address_forms) if label.startswith("address") else (name, name_forms)
        inputs = [" ".join(i.split()) for i in inputs]  # the field types' cleaning of spaces
        best: list[float] = []
        for function in (query, stored):
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                for value in inputs:
                    function(value)
                runs.append((time.perf_counter() - started) / len(inputs) * 1e6)
            best.append(min(runs))
        print(f"| {label} | {len(inputs)} | {best[0]:.2f} | {best[1]:.2f} |")


def _folds_bench(code: str, sample: Path, readings: str | None) -> None:
    """What the normaliser's folds make meet that did not before: distinct values of the
    sample DV ledger (readings, names, addresses as typed there) and, with ``--readings``,
    a list of readings (``reading<TAB>weight`` a line, e.g. surnames and how many bear
    them). Two values meet when their search forms are one (a search for one finds the
    other); the normaliser before is ``code``'s (the revision before a change)."""
    import csv
    import importlib.util
    from collections import defaultdict

    from ledgers.search import normalize as after

    spec = importlib.util.spec_from_file_location(
        "normalize_before", Path(code) / "ledgers" / "search" / "normalize.py"
    )
    before = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(before)  # type: ignore[union-attr]
    rows = list(csv.DictReader(sample.read_bytes().decode("cp932").splitlines()))
    columns = {
        "readings": (["カナ氏名", "加害者カナ氏名"], "normalize_name", "normalize_name"),
        "names": (["漢字氏名", "加害者漢字氏名", "通称・旧姓"], "normalize_name", "normalize_name"),
        "addresses": (["現住所", "前住所"], "normalize_text", "normalize_address"),
    }
    sets: list[tuple[str, dict[str, float], str, str]] = [
        (f"sample {label}", {row[c]: 1.0 for row in rows for c in cols if row[c]}, old, new)
        for label, (cols, old, new) in columns.items()
    ]
    if readings:
        weights: dict[str, float] = defaultdict(float)
        for line in Path(readings).read_text(encoding="utf-8").splitlines():
            reading, _tab, weight = line.partition("\t")
            weights[reading] += float(weight or 1)
        sets.append(
            (f"readings of {Path(readings).name}", weights, "normalize_name", "normalize_name")
        )
    print(
        "| values | distinct | forms before | forms after | groups that meet now | values in them | share (weighted) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    examples = []
    for label, values, old, new in sets:
        old_forms: dict[str, float] = defaultdict(float)
        for value, weight in values.items():
            old_forms[getattr(before, old)(value)] += weight
        groups: dict[str, set[str]] = defaultdict(set)
        for form in old_forms:
            groups[getattr(after, new)(form)].add(form)
        met = [sorted(group) for group in groups.values() if len(group) > 1]
        share = sum(old_forms[form] for group in met for form in group) / sum(old_forms.values())
        print(
            f"| {label} | {len(values)} | {len(old_forms)} | {len(groups)} | {len(met)} |"
            f" {sum(map(len, met))} | {share:.2%} |"
        )
        examples.append((label, met))
    for label, met in examples:
        print(f"\n{label}: " + ("; ".join(" = ".join(group) for group in met[:40]) or "none"))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _floor_query(
    ledger: Any,
    fields: dict[str, Any],
    matches: dict[str, str],
    criteria: dict[str, Any],
    generations: str,
) -> Any:
    """The search's conditions as one query on the same indexes: no policy, no audit."""
    from django.db.models import Q

    from ledgers.records.models import Record
    from ledgers.search.services import _Criterion

    records = Record.objects.filter(ledger_id=ledger.pk, deleted_at__isnull=True)
    parsed = [
        _Criterion.parse(ledger, path, fields[path], matches[path], raw)
        for path, raw in criteria.items()
    ]
    if generations == "all":
        # The service's two steps (recent window, then candidates), without policy and audit.
        return _AllGenerations(ledger, records, parsed)
    condition = Q()
    for criterion in parsed:
        condition &= criterion.current()
    records = records.filter(condition)
    return records.order_by("-updated_at", "-id").values_list("id", flat=True)[:51]


class _AllGenerations:
    """The every-generation floor: iterating runs it, ``explain`` captures its queries."""

    def __init__(self, ledger: Any, records: Any, criteria: list[Any]) -> None:
        self.run = lambda: _every_generation_window_floor(ledger, records, criteria)

    def __iter__(self) -> Any:
        return iter(self.run())

    def explain(self, analyze: bool = True) -> str:
        return _service_plan(self.run)


def _every_generation_window_floor(ledger: Any, records: Any, criteria: list[Any]) -> Any:
    from ledgers.search.services import _every_generation_window

    return _every_generation_window(ledger, records, criteria, 0, 51)


def _plan(queryset: Any) -> str:
    """The indexes and join/scan nodes the plan used (EXPLAIN ANALYZE, measured)."""
    if isinstance(queryset, _AllGenerations):
        return queryset.explain()
    return _plan_text(queryset.explain(analyze=True))


def _service_plan(run: Any) -> str:
    """The plans of the queries a service call ran on the records (captured, then
    EXPLAIN ANALYZE each), joined with " → "."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run()
    from django.db import transaction

    plans = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.lstrip().upper().startswith(("SELECT", "WITH")) and "ORDER BY" in sql:
            # EXPLAIN ANALYZE runs the statement: a search that writes its audit event in
            # the same statement is explained in a transaction that is rolled back.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("EXPLAIN ANALYZE " + sql)
                plans.append(_plan_text("\n".join(row[0] for row in cursor.fetchall())))
                transaction.set_rollback(True)
    return " → ".join(plans) or "-"


def _plan_text(text: str) -> str:
    used = []
    for line in text.splitlines():
        for marker in ("Index Scan using ", "Index Only Scan using ", "Bitmap Index Scan on "):
            if marker in line:
                name = line.split(marker, 1)[1].split()[0]
                used.append(f"{marker.split()[0].lower()} {name}")
        if "Seq Scan on " in line:
            used.append("seq " + line.split("Seq Scan on ", 1)[1].split()[0])
    return ", ".join(dict.fromkeys(used)) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument(
        "--changed", type=float, default=1.0, help="share of records changed per generation"
    )
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="query an existing bench database")
    parser.add_argument(
        "--normaliser", action="store_true", help="time the normalisation only (no database)"
    )
    parser.add_argument(
        "--code", help="with --normaliser or --folds: the checkout whose normaliser to compare"
    )
    parser.add_argument(
        "--folds", action="store_true", help="what the folds make meet, against --code's"
    )
    parser.add_argument(
        "--sample",
        default=str(REPO_ROOT.parent / "shared" / "data" / "dv_support_ledger_cp932.csv"),
        help="with --folds: the sample DV ledger (CP932 CSV)",
    )
    parser.add_argument("--readings", help="with --folds: readings, reading<TAB>weight a line")
    args = parser.parse_args()
    if args.normaliser:
        _normaliser_bench(args.code, max(args.repeat, 5))
        return
    if args.folds:
        _folds_bench(args.code, Path(args.sample), args.readings)
        return

    admin_url = bench_database(BENCH_DB, create=not args.reuse)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    from daicho.accounts.models import Department, Membership, Role
    from ledgers.access.policy import policy_for
    from ledgers.access.services import grants_replace
    from ledgers.definitions.models import Ledger
    from ledgers.definitions.services import ledger_create
    from ledgers.records.services import record_bulk_create, record_bulk_update
    from ledgers.search.services import search_run

    rng = random.Random(20261128)
    if not args.reuse:
        bench_city()
    with schema_context("bench"):
        user_model = get_user_model()
        if not args.reuse:
            actor = user_model.objects.get(username="admin")
            shimin = Department.objects.create(code="shimin", name="市民課")
            Membership.objects.create(
                user=actor, department=shimin, role=Role.LEDGER_ADMIN, valid_from=date(2020, 4, 1)
            )
            ledger = ledger_create(
                actor=actor, code="dv", name="DV", fields=FIELDS, search_screens=SCREENS
            )
            grants_replace(actor=actor, ledger=ledger, grants=[
                {"department": "shimin", "capabilities": ["view", "search", "create", "update", "design"], "clearance": "special_care"}])  # fmt: skip
            policy = policy_for(actor, ledger)
            started = time.perf_counter()
            ids: list[Any] = []
            for start in range(0, args.records, args.batch):
                batch = [person(rng) for _ in range(min(args.batch, args.records - start))]
                ids.extend(
                    i
                    for i, _g in record_bulk_create(
                        actor=actor, ledger=ledger, values_list=batch, policy=policy
                    )
                )
                if len(ids) % 100_000 < args.batch:
                    print(
                        f"  … {len(ids):,} records ({time.perf_counter() - started:.0f} s)",
                        file=sys.stderr,
                    )
            for generation in range(2, args.generations + 1):
                changed = ids[: int(len(ids) * args.changed)]
                for start in range(0, len(changed), args.batch):
                    changes = []
                    for record_id in changed[start : start + args.batch]:
                        moved = person(rng)
                        changes.append(
                            (
                                record_id,
                                generation - 1,
                                {"name": moved["name"], "address": moved["address"]},
                            )
                        )
                    record_bulk_update(actor=actor, ledger=ledger, changes=changes, policy=policy)
                print(
                    f"  … generation {generation} ({time.perf_counter() - started:.0f} s)",
                    file=sys.stderr,
                )
            load_s = time.perf_counter() - started
            # The steady state of a city: autovacuum has removed the row versions the
            # changes left behind (the index would otherwise point at them) and analysed.
            with connection.cursor() as cursor:
                for table in ("ledgers_record", "ledgers_searchvalue", "ledgers_recordversion"):
                    cursor.execute(f"VACUUM (ANALYZE) {table}")
        else:
            load_s = 0.0
        actor = user_model.objects.get(username="admin")
        ledger = Ledger.objects.get(code="dv")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM ledgers_record")
            (records,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM ledgers_recordversion")
            (versions,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM ledgers_searchvalue")
            (values,) = cursor.fetchone()

        screens = {s["code"]: s for s in ledger.definition["search_screens"]}
        fields = {f["key"]: f for f in ledger.fields()}
        policy = policy_for(actor, ledger)
        rows = []
        for label, screen, criteria in QUERIES:
            service_ms: list[float] = []
            raw_ms: list[float] = []
            hits = 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = search_run(
                    actor=actor,
                    ledger=ledger,
                    screen_code=screen,
                    criteria=criteria,
                    reason="bench",
                    policy=policy,  # as a request has it (the API caches it per caller)
                )
                service_ms.append((time.perf_counter() - started) * 1000)
                hits = len(result.hits)
                # The floor: the same conditions, one query, no policy, no audit.
                matches = {c["field"]: c["match"] for c in screens[screen]["criteria"]}
                started = time.perf_counter()
                queryset = _floor_query(
                    ledger, fields, matches, criteria, screens[screen]["generations"]
                )
                list(queryset)
                raw_ms.append((time.perf_counter() - started) * 1000)
            plan = _plan(
                _floor_query(ledger, fields, matches, criteria, screens[screen]["generations"])
            )
            service_plan = _service_plan(
                lambda screen=screen, criteria=criteria: search_run(
                    actor=actor, ledger=ledger, screen_code=screen, criteria=criteria,
                    reason="bench", policy=policy,
                )
            )  # fmt: skip
            rows.append((label, hits, service_ms, raw_ms, plan, service_plan))
            print(
                f"  {label}: p95 {_pct(service_ms, 0.95):.1f} ms (raw {_pct(raw_ms, 0.95):.1f} ms), {hits} hits",
                file=sys.stderr,
            )

    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, PostgreSQL {connection.pg_version // 10000}"
    )
    print(
        f"\nMachine: {machine}; {records:,} records, {versions:,} versions, {values:,} all-generation values; load {load_s:.0f} s\n"
    )
    print(
        "| query class | hits (page) | service p50 / p95 / p99 (ms) | raw SQL p50 / p95 / p99 (ms) | ratio p95 | plan (raw SQL) | plan (service) |"
    )
    print("|---|---:|---:|---:|---:|---|---|")
    for label, hits, service_ms, raw_ms, plan, service_plan in rows:
        s = [_pct(service_ms, q) for q in (0.5, 0.95, 0.99)]
        r = [_pct(raw_ms, q) for q in (0.5, 0.95, 0.99)]
        ratio = s[1] / r[1] if r[1] else float("inf")
        print(
            f"| {label} | {hits} | {s[0]:.1f} / {s[1]:.1f} / {s[2]:.1f} | {r[0]:.1f} / {r[1]:.1f} / {r[2]:.1f} | {ratio:.1f} | {plan} | {service_plan} |"
        )
    print(
        json.dumps(
            {
                "records": records,
                "versions": versions,
                "median_service_ms": statistics.median([_pct(r[2], 0.5) for r in rows]),
            }
        )
    )
    connection.close()
    if not args.keep and not args.reuse:
        drop_database(admin_url, BENCH_DB)


if __name__ == "__main__":
    main()
