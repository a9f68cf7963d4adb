"""The documentation site, the API reference included, builds offline in
mkdocs's strict mode: a broken link, a missing page or a docstring the
reference cannot read fails the build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("mkdocstrings", reason="mkdocs and mkdocstrings come with the test extra (pip install -e .[test])")


@pytest.mark.timeout(120)
def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    if not (ROOT / "mkdocs.yml").is_file():
        pytest.skip("needs the source tree (mkdocs.yml beside tests/)")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (tmp_path / "site" / "reference" / "interfaces" / "index.html").read_text()
    for name in ("ITLS", "verifyCertificate", "getPeerCertChain", "ITCPMonitor"):
        assert name in page, f"the reference lacks {name}"


def test_components_page_lists_every_deviation() -> None:
    """docs/components.md shows each component's deviation table whole."""
    import nettls

    page = (ROOT / "docs" / "components.md").read_text()
    for status in nettls.registry.components():
        if status.component is None or status.name == "tcp":
            continue
        assert f"### {status.name}" in page
        for case in status.component.deviations:
            assert f"`{case}`" in page, f"docs/components.md lacks {status.name}'s deviation {case}"
