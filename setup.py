"""Package discovery that pyproject.toml cannot express: `platform/` installs as `daicho`."""

from setuptools import find_namespace_packages, find_packages, setup

APPS = ["tenants", "ledgers", "template_market", "workers"]

packages = find_packages(include=[f"{app}*" for app in APPS])
packages += ["daicho"] + [
    f"daicho.{name}" for name in find_namespace_packages("platform", exclude=["templates*"])
]

setup(packages=packages, include_package_data=True)
