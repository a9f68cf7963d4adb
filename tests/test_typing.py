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
CHECKED = [
    "nettls/interfaces",
    "nettls/registry.py",
    "nettls/capabilities.py",
    "nettls/client.py",
    "nettls/x509.py",
    "nettls/aio",
    "nettls/httpx",
    "nettls/components",
    "nettls/pki.py",
    "nettls/eventloop.py",
    "nettls/server",
    "nettls/commands",
    "nettls/cli.py",
]


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


#: A user's program: what resolve() returns is typed, so a misspelt method
#: and a wrong argument are errors, and the right calls are not.
USER_PROGRAM = """
import nettls

TLS = nettls.resolve("net.TLS")
TLSContext = nettls.resolve("net.TLSContext")
session = TLS(TLSContext(TLSContext.CLIENT))
data: bytes = session.recv(5)
status: int = session.getStatus() + TLS.OK
session.recvv(5)
session.send("text")
"""


@pytest.mark.timeout(90)
def test_resolve_is_typed_for_the_dana_names(tmp_path: Path) -> None:
    program = tmp_path / "user_program.py"
    program.write_text(USER_PROGRAM)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(program)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=80,
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, proc.stdout
    assert "recvv" in errors[0] and "send" in errors[1], proc.stdout
