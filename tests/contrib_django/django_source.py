"""Django's own test modules (``tests/cache``, ``tests/sessions_tests``) for the installed
Django version, fetched from its source distribution on PyPI by ``pip download`` into a
cache outside the repository (``$XDG_CACHE_HOME/store-tests``, default ``~/.cache``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django

WANTED = ("tests/cache/", "tests/sessions_tests/")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "store-tests"


def django_tests_dir() -> Path:
    """The directory holding Django's ``cache`` and ``sessions_tests`` test packages."""
    version = django.__version__
    root = cache_root()
    target = root / f"django-{version}-tests"
    if (target / "cache" / "tests.py").is_file() and (
        target / "sessions_tests" / "tests.py"
    ).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"django-{version}.tar.gz"
    if not archive.is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"django=={version}",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--quiet",
                "-d",
                str(root),
            ],
            check=True,
            timeout=600,
        )
    # extracted beside the target, then renamed: a concurrent run never sees half a tree
    scratch = Path(tempfile.mkdtemp(prefix="django-tests-", dir=root))
    try:
        prefix = f"django-{version}/"
        with tarfile.open(archive) as tar:
            members = []
            for member in tar.getmembers():
                inner = member.name.removeprefix(prefix)
                if member.isfile() and inner.startswith(WANTED):
                    member.name = inner.removeprefix("tests/")
                    members.append(member)
            tar.extractall(scratch, members=members, filter="data")
        try:
            scratch.rename(target)
        except OSError:
            if not (target / "cache" / "tests.py").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
