"""The ``nettls`` subcommands, one module each.

Every command module exposes three names, which ``nettls.cli`` reads:

- ``HELP: str``: one line for ``nettls --help``;
- ``add_arguments(parser) -> None``: its options, on an ``argparse`` parser;
- ``run(args) -> int``: does the work and returns the exit status (SPEC
  section 12: 0 success, 1 the thing checked failed, 2 usage or input
  errors). Known errors are raised as ``nettls.commands._errors.CommandError``
  and become one line on stderr in ``nettls.cli.main``.

Commands reach components only through the registry (``nettls.resolve``),
and use only the spec interfaces and the extension interfaces, so they work
unchanged with a third party's component.
"""

#: Command name -> module under ``nettls.commands``, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "connect": "connect",
    "verify": "verify",
    "serve": "serve",
    "components": "components",
    "conformance": "conformance",
}

__all__ = ["COMMANDS"]
