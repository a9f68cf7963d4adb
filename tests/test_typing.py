"""mypy is clean over the typed core: interfaces, registry, components, pki.

Runs mypy in a subprocess with the project's configuration (pyproject.toml,
which loads the mypy-zope plugin) and a throwaway cache, so the result never
depends on a stale ``.mypy_cache``. A cold run takes a few seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is not installed (pip install -e .[test])")
pytest.importorskip("mypy_zope", reason="the mypy-zope plugin is not installed (pip install -e .[test])")

ROOT = Path(__file__).resolve().parent.parent
#: What must stay mypy clean, relative to the repository root.
CHECKED = ["nettls/interfaces", "nettls/registry.py", "nettls/components", "nettls/pki.py"]


@pytest.mark.timeout(90)
def test_mypy_is_clean(tmp_path: Path) -> None:
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("needs the source tree (pyproject.toml beside tests/)")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            *CHECKED,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert proc.returncode == 0, f"mypy {' '.join(CHECKED)} failed:\n{proc.stdout}{proc.stderr}"
