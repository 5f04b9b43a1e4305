"""`platform/` must never shadow the standard library's `platform` module."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_platform_from_repository_root_is_the_standard_library() -> None:
    # Regression: a platform/__init__.py made `import uuid` (so Django and botocore) fail
    # with "module 'platform' has no attribute 'system'".
    result = subprocess.run(
        [sys.executable, "-c",
         "import platform, uuid, sys; print(platform.system()); print(platform.__file__)"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    system, origin = result.stdout.splitlines()
    assert system == sys.platform.capitalize() or system in {"Linux", "Darwin", "Windows"}
    assert not origin.startswith(str(REPO_ROOT / "platform"))


def test_platform_folder_has_no_top_level_init() -> None:
    assert not (REPO_ROOT / "platform" / "__init__.py").exists()


def test_daicho_package_is_the_platform_folder() -> None:
    import daicho.settings

    assert Path(daicho.settings.__file__).resolve().parent == REPO_ROOT / "platform" / "settings"


def test_the_built_package_carries_the_templates(tmp_path: Path) -> None:
    # Regression: a wheel once held only .py files, and installed images raised
    # TemplateDoesNotExist on every page.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(REPO_ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    import zipfile

    (wheel,) = tmp_path.glob("daicho-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "daicho/templates/daicho/suspended.html" in names
    assert "ledgers/search/data/variants.tsv" in names  # the variant kanji table
    assert "daicho/settings/base.py" in names
    assert not any(name.startswith("platform/") for name in names)


def _after_wsgi_import(code: str) -> str:
    """What ``code`` prints in a fresh interpreter that imported ``daicho.wsgi`` first, as a
    gunicorn worker does."""
    import os

    from django.conf import settings

    result = subprocess.run(
        [sys.executable, "-c", f"import daicho.wsgi; {code}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "daicho.settings.test",
             "DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_wsgi_application_keeps_what_its_start_up_made_out_of_the_collector() -> None:
    """The start-up's objects are frozen (``gc.freeze``): the collector's full passes walk
    only what requests made since, not the ~100,000 objects of the loaded code."""
    out = _after_wsgi_import("import gc; print(gc.get_freeze_count(), len(gc.get_objects()))")
    frozen, walked = map(int, out.split())
    assert frozen > 50_000
    assert walked < frozen / 10


def test_the_wsgi_application_loads_the_views_before_its_first_request() -> None:
    """A gunicorn worker imports the views as it starts, not while its first caller waits."""
    loaded = _after_wsgi_import(
        "import sys; print(sorted(m for m in ('ledgers.api.records.views',"
        " 'ledgers.api.search.views', 'daicho.accounts.views', 'tenants.admin')"
        " if m in sys.modules))"
    )
    assert "ledgers.api.records.views" in loaded
    assert "daicho.accounts.views" in loaded
