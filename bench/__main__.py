"""Run the nettls benchmarks by hand: ``python -m bench [WHICH ...] [options]``.

WHICH is any of ``throughput``, ``handshake``, ``serve``, ``verify``,
``hostile`` (default: all five). Every table prints medians, min-max and
the ratio to the baseline measured in the same run; ``--markdown FILE`` also writes the
tables and the machine facts to FILE. Never run in CI: these are timings.
See docs/performance.md for what each measures and the results.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "which", nargs="*", choices=["throughput", "handshake", "serve", "verify", "hostile", []], default=[]
    )
    parser.add_argument("--runs", type=int, default=5, help="rounds per case (median of these; default 5)")
    parser.add_argument("--contenders", help="comma-separated contender names (throughput, handshake)")
    parser.add_argument("--sizes", help="comma-separated send sizes for throughput, e.g. '1 KiB,16 KiB'")
    parser.add_argument("--scale", type=float, default=1.0, help="scale the bytes per throughput run")
    parser.add_argument("--clients", default="100,1000,10000", help="concurrent clients for serve")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of load per serve measurement")
    parser.add_argument(
        "--servers",
        help="servers for the serve benchmark (default: stdlib,pyopenssl,asyncio) and the hostile one "
        "(default: every TLS component and asyncio)",
    )
    parser.add_argument("--cpu", action="store_true", help="throughput, handshake: also print the CPU time of each end")
    parser.add_argument(
        "--pathological",
        action="store_true",
        help="verify: time the pathological corpus (long chains, name-constraint blow-ups, cycles) on every "
        "component and print the worst case, instead of ordinary chains",
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables to FILE")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-run progress lines")
    args = parser.parse_args(argv)
    which = args.which or ["throughput", "handshake", "serve", "verify", "hostile"]
    contenders = args.contenders.split(",") if args.contenders else None
    progress = None if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))

    from ._common import machine_facts

    lines = ["## Machine", "", *machine_facts(), f"- command: python -m bench {' '.join(argv or sys.argv[1:])}", ""]
    print("\n".join(lines), flush=True)
    started = time.monotonic()
    for name in which:
        if name == "throughput":
            from . import throughput

            sizes = [s.strip() for s in args.sizes.split(",")] if args.sizes else None
            lines += throughput.run(args.runs, contenders, sizes, args.scale, progress, args.cpu) + [""]
        elif name == "handshake":
            from . import handshake

            lines += handshake.run(args.runs, contenders, progress, args.cpu) + [""]
        elif name == "serve":
            from . import serve

            clients = [int(c) for c in args.clients.split(",")]
            servers = (args.servers or "stdlib,pyopenssl,asyncio").split(",")
            lines += serve.run(args.runs, clients, servers, args.seconds, progress) + [""]
        elif name == "verify":
            from . import verify

            lines += (verify.run_pathological(progress) if args.pathological else verify.run(args.runs, progress)) + [""]
        elif name == "hostile":
            from . import hostile

            lines += hostile.run(args.servers.split(",") if args.servers else None, progress) + [""]
    lines.append(f"Total time {time.monotonic() - started:.0f} s.")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
