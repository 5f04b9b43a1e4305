"""Image build step: check the installed package and add what a wheel leaves out.

Run once by infra/Dockerfile, after ``pip install .`` and before ``collectstatic``; never
at run time. The settings look for project-wide templates in directories named relative
to where the package is installed (``settings.REPO_ROOT``), but a wheel carries only the
Python packages. Each such directory missing from the installed tree is copied from the
same relative place in the source tree; the build fails if it is in neither, rather than
shipping an image whose pages raise ``TemplateDoesNotExist``.

Usage: python prepare_image.py SOURCE_DIR   (with the build's placeholder environment)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import django


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: prepare_image.py SOURCE_DIR\n")
        return 64
    source = Path(argv[1]).resolve()

    django.setup()
    from django.conf import settings

    installed_root = getattr(settings, "REPO_ROOT", None)
    missing: list[Path] = []
    for engine in settings.TEMPLATES:
        for entry in engine.get("DIRS", []):
            directory = Path(entry).resolve()
            if directory.is_dir():
                continue
            origin = None
            if installed_root is not None:
                try:
                    origin = source / directory.relative_to(Path(installed_root).resolve())
                except ValueError:
                    origin = None
            if origin is None or not origin.is_dir():
                missing.append(directory)
                continue
            shutil.copytree(origin, directory)
            sys.stderr.write(f"prepare_image: copied {origin} to {directory}\n")

    if missing:
        names = ", ".join(str(path) for path in missing)
        sys.stderr.write(f"prepare_image: template directories not found: {names}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
