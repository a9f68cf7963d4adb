"""The README's Python programs run as written: the server, then the safe
client and the Dana-style client against it, on every TLS component
(chosen, as the README says, with ``NETTLS_LINKS`` alone)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from _edge import COMPONENTS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

pytestmark = pytest.mark.timeout(90)


def programs() -> dict[str, str]:
    """The README's ```python blocks, by the file name their first line gives."""
    found = {}
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.S):
        first = block.splitlines()[0]
        match = re.match(r"# (\w+\.py):", first)
        assert match, f"a README program must start with '# NAME.py: ...', not {first!r}"
        found[match.group(1)] = block
    return found


def test_the_readme_names_its_programs() -> None:
    assert set(programs()) == {"server.py", "client.py", "dana_client.py"}


@pytest.mark.parametrize("component", COMPONENTS)
def test_readme_programs_run_as_written(component: str, tmp_path: Path) -> None:
    for name, text in programs().items():
        (tmp_path / name).write_text(text)
    env = dict(os.environ, NETTLS_LINKS=f"net.TLS={component},net.TLSContext={component},net.TLSCertStore={component}")
    server = subprocess.Popen(
        [sys.executable, "server.py"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("listening"), f"server.py said {line!r}: {server.stderr.read() if server.poll() is not None else ''}"
        for client in ("client.py", "dana_client.py"):
            done = subprocess.run([sys.executable, client], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, f"{client} on {component}: {done.stderr}"
            assert done.stdout.strip() == "b'hello'", f"{client} on {component} printed {done.stdout!r}"
        assert server.wait(timeout=20) == 0, server.stderr.read() if server.stderr else ""
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
