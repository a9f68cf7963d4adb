"""The ``nettls`` command line: an argparse front over ``nettls.commands``.

Each subcommand is a module in ``nettls.commands`` exposing ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. This module only builds
the parser, sets up logging and turns known errors into one line on stderr
with the exit status of SPEC section 12 (0 success, 1 the thing checked
failed, 2 usage or input errors); no error a user can make ends in a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from types import ModuleType
from typing import Any, Callable, Sequence

from .commands import COMMANDS
from .escape import escape_control
from .commands._errors import EXIT_FAILED, EXIT_USAGE, CommandError, one_line
from .commands._options import ArgumentParser

__all__ = ["main", "build_parser"]

log = logging.getLogger("nettls.cli")

LOG_LEVELS = ("debug", "info", "warning", "error")

#: Commands whose module someone else provides, and which may be missing from a build.
_OPTIONAL = frozenset({"serve"})


def _import_command(name: str, module_name: str) -> tuple[ModuleType | None, str | None]:
    """The command's module, or None and why it cannot be used."""
    qualified = f"nettls.commands.{module_name}"
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name == qualified:
            return None, f"'nettls {name}' is not available in this installation (module {qualified} is missing)"
        return None, f"'nettls {name}' cannot be loaded: {one_line(exc)}"
    except Exception as exc:  # a broken module must not take the other commands down
        return None, f"'nettls {name}' cannot be loaded: {type(exc).__name__}: {one_line(exc)}"
    missing = [n for n in ("HELP", "add_arguments", "run") if not hasattr(module, n)]
    if missing:
        return None, f"'nettls {name}' cannot be used: {qualified} lacks {', '.join(missing)}"
    return module, None


def _unavailable(reason: str) -> Callable[[Any], int]:
    def run(args: Any) -> int:
        raise CommandError(reason, EXIT_USAGE)

    return run


def build_parser() -> argparse.ArgumentParser:
    """The whole parser: global options and one subparser per command."""
    from . import __version__

    parser = ArgumentParser(
        prog="nettls",
        description="The Dana net TLS API as Python components: try it, check certificates, talk to TLS servers.",
        epilog="Exit status: 0 success; 1 the thing checked failed (handshake, verification, host name); "
        "2 usage or input errors. 'nettls COMMAND --help' tells more.",
    )
    parser.add_argument("--version", action="version", version=f"nettls {__version__}")
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="warning", help="how much to log on stderr (default: warning)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, module_name in COMMANDS.items():
        module, problem = _import_command(name, module_name)
        if module is None:
            if name not in _OPTIONAL:
                log.debug("%s", problem)
            p = sub.add_parser(name, help=f"(unavailable) {problem}", description=problem)
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            p.set_defaults(func=_unavailable(problem or name))
            continue
        help_text = str(module.HELP)
        p = sub.add_parser(
            name, help=help_text, description=help_text, epilog=getattr(module, "EPILOG", None), conflict_handler="resolve"
        )
        # Accepted after the command too; a command that defines its own wins.
        p.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


class _ForTheTerminal(logging.Filter):
    """The command line's log lines: control characters in them (from a
    peer's certificate, alert or request) escaped (SPEC 14); and, below
    --log-level info, no word from a store on why it refused a file, since
    each command reports that problem itself in one line (SPEC 12)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self._quiet_stores = level >= logging.WARNING

    def filter(self, record: logging.LogRecord) -> bool:
        if self._quiet_stores and record.name.startswith("nettls.store") and record.levelno < logging.ERROR:
            return False
        record.msg, record.args = escape_control(record.getMessage()), None
        return True


def _setup_logging(level: str) -> None:
    numeric = getattr(logging, str(level).upper(), logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("nettls: %(levelname)s: %(name)s: %(message)s"))
    handler.addFilter(_ForTheTerminal(numeric))
    logging.basicConfig(level=numeric, handlers=[handler])  # nothing, where the program has set logging up
    # Python warnings (a library's deprecation notes) are for developers, not
    # for the user's terminal: shown as log records at --log-level info or debug.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.INFO if numeric <= logging.INFO else logging.ERROR)


def _error(command: str | None, message: object) -> None:
    prog = f"nettls {command}" if command else "nettls"
    sys.stderr.write(f"{prog}: error: {one_line(message)}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _setup_logging(args.log_level)
    from .interfaces import CertificateError, RegistryError

    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        _error(args.command, exc)
        return exc.exit_code
    except (RegistryError, CertificateError) as exc:  # a name or a file the user gave
        _error(args.command, exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error(args.command, "interrupted")
        return 130
    except BrokenPipeError:  # our reader went away (nettls ... | head)
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the exit flush stays quiet
        except OSError:
            pass
        return EXIT_FAILED
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        _error(args.command, f"unexpected {type(exc).__name__}: {exc} (--log-level debug shows the traceback)")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
