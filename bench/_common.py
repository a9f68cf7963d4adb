"""What every benchmark shares: certificates, statistics, the table, machine facts.

Every benchmark measures its contenders side by side in one run, in
rounds: each round runs every contender once, in an order rotated from
round to round, so that a burst of load from elsewhere on the machine
falls on all of them alike. A contender's figure is the median of its
rounds; the ratio to the baseline is the median of the per-round ratios
(each measured minutes apart at most), with the min-max of the rounds
beside it.
"""

from __future__ import annotations

import os
import platform
import ssl
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

__all__ = ["Pki", "make_pki", "Result", "rounds", "print_table", "machine_facts", "fmt_rate"]


@dataclass(frozen=True)
class Pki:
    """A root, an intermediate and a leaf (PEM), the leaf's key as PKCS#8 PEM."""

    kind: str
    root: str
    intermediate: str
    leaf: str
    key: str

    @property
    def chain(self) -> list[str]:
        return [self.intermediate]


_PKIS: dict[str, Pki] = {}


def make_pki(kind: str = "ec") -> Pki:
    """A fresh three-level PKI with ``kind`` keys ("ec": P-256, "rsa": 2048 bits)."""
    if kind not in _PKIS:
        from nettls.pki import throwaway_pki

        p = throwaway_pki(["localhost", "127.0.0.1"], kind=kind)
        _PKIS[kind] = Pki(kind, p.root.cert_pem, p.intermediate.cert_pem, p.leaf.cert_pem, p.leaf.key_pem)
    return _PKIS[kind]



@contextmanager
def server_files(pki: Pki) -> Iterator[dict[str, str]]:
    """The server's certificate (with its chain) and key as files, for a
    server process: ``{"cert": path, "key": path}``, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        files = {"cert": os.path.join(tmp, "cert.pem"), "key": os.path.join(tmp, "key.pem")}
        with open(files["cert"], "w") as f:
            f.write(pki.leaf + "".join(pki.chain))
        with open(files["key"], "w") as f:
            f.write(pki.key)
        os.chmod(files["key"], 0o600)
        yield files


@dataclass
class Result:
    """One contender's samples in one case (higher is better)."""

    name: str
    samples: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # per round, to the baseline

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def rounds(
    contenders: Sequence[str],
    run_one: Callable[[str], float],
    repetitions: int,
    baseline: str,
    progress: Callable[[str], None] | None = None,
) -> list[Result]:
    """Run every contender once per round, order rotated per round; returns
    the results in ``contenders`` order with per-round ratios to ``baseline``."""
    results = {name: Result(name) for name in contenders}
    order = list(contenders)
    for r in range(repetitions):
        turn = order[r % len(order):] + order[: r % len(order)]
        got: dict[str, float] = {}
        for name in turn:
            got[name] = run_one(name)
            results[name].samples.append(got[name])
            if progress:
                progress(f"  round {r + 1}/{repetitions} {name}: {got[name]:.4g}")
        for name in contenders:
            results[name].ratios.append(got[name] / got[baseline] if got[baseline] else float("nan"))
    return [results[n] for n in contenders]


def fmt_rate(value: float, unit: str) -> str:
    if unit == "MB/s":
        return f"{value / 1e6:,.0f}"
    return f"{value:,.0f}"


def print_table(title: str, case_results: list[tuple[str, list[Result]]], unit: str, baseline: str, reps: int) -> list[str]:
    """Print one table: per case and contender, median, min-max, ratio. Returns the lines (markdown)."""
    lines = [
        f"### {title}",
        "",
        f"{reps} rounds; figures in {unit} (median, min-max of the rounds); "
        f"ratio = median of the per-round ratios to `{baseline}` (min-max).",
        "",
        f"| case | contender | median {unit} | min-max | ratio | ratio min-max |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for case, results in case_results:
        for res in results:
            lo, hi = min(res.samples), max(res.samples)
            ratio = statistics.median(res.ratios)
            rlo, rhi = min(res.ratios), max(res.ratios)
            lines.append(
                f"| {case} | {res.name} | {fmt_rate(res.median, unit)} | {fmt_rate(lo, unit)}-{fmt_rate(hi, unit)} "
                f"| {ratio:.2f}x | {rlo:.2f}-{rhi:.2f} |"
            )
    print("\n".join(lines), flush=True)
    print(flush=True)
    return lines


def machine_facts() -> list[str]:
    """Machine facts for the report."""
    try:
        import OpenSSL

        pyopenssl = OpenSSL.__version__
    except ImportError:  # pragma: no cover
        pyopenssl = "missing"
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return [
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; load average at start {load[0]:.2f}" if load[0] != "?" else f"- CPU: {cpu}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()} ({sys.implementation.name}), {ssl.OPENSSL_VERSION}, pyOpenSSL {pyopenssl}",
    ]
