"""``nettls components``: the interfaces, the components, the links.

Lists every spec interface with its Dana name and the component linked to
it, every component the registry found (available, or unavailable with the
reason) with what it provides and which extension interfaces its classes
carry, and where the links come from.
"""

from __future__ import annotations

import argparse
import os

from ._errors import EXIT_OK, UsageError, one_line
from ._output import format_table, write_lines

HELP = "list the interfaces, the components, the links and what is unavailable and why"

def _extension_names() -> list[str]:
    """Every extension interface's name (SPEC 11's and the TLS extensions)."""
    from nettls.interfaces import EXTENSION_INTERFACES

    return list(EXTENSION_INTERFACES)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--component",
        metavar="NAME",
        default=None,
        help="show only this component (default: every component found)",
    )
    parser.add_argument(
        "--deviations",
        action="store_true",
        help="list each component's known deviations from the contract, with the reason",
    )


def _extensions_of(classes: list[type]) -> list[str]:
    from nettls.interfaces import EXTENSION_INTERFACES

    return [name for name, iface in EXTENSION_INTERFACES.items() if any(iface.implementedBy(cls) for cls in classes)]


def run(args: argparse.Namespace) -> int:
    import nettls
    from nettls.interfaces import SPEC_INTERFACES
    from nettls.registry import LINKS_VARIABLE

    reg = nettls.registry
    statuses = reg.components()
    if args.component is not None:
        statuses = [s for s in statuses if s.name == args.component]
        if not statuses:
            known = ", ".join(s.name for s in reg.components()) or "none"
            raise UsageError(f"unknown component {args.component!r}; known: {known}")
    links = reg.links()

    out: list[str] = []
    if args.component is None:
        out.append("Interfaces:")
        rows = []
        for dana, iface in SPEC_INTERFACES.items():
            if dana in links:
                where = links[dana] or "(not linked: no available component provides it)"
                providers = ", ".join(reg.providers(dana)) or "none"
                rows.append((dana, iface.__name__, where, providers))
            else:
                extenders = sorted(n for n, i in SPEC_INTERFACES.items() if i is not iface and i.extends(iface))
                rows.append((dana, iface.__name__, f"(abstract: extended by {', '.join(extenders)})", ""))
        out += format_table(("name", "interface", "linked to", "provided by"), rows, indent="  ")
        out.append("")
        out.append("Extension interfaces (nettls.interfaces): " + ", ".join(_extension_names()))
        out.append("")

    out.append("Components:")
    for status in statuses:
        if not status.available:
            out.append(f"  {status.name}: unavailable: {one_line(status.reason)}")
            if status.origin:
                out.append(f"    from {status.origin}")
            continue
        comp = status.component
        assert comp is not None
        out.append(f"  {status.name}: available")
        if comp.description:
            out.append(f"    {comp.description}")
        if comp.library:
            out.append(f"    library: {comp.library}")
        out.append(f"    provides: {', '.join(comp.provides) or 'nothing'}")
        linked = [name for name, to in links.items() if to == status.name]
        out.append(f"    linked for: {', '.join(linked) or 'nothing'}")
        if comp.requires:
            out.append(f"    requires: {', '.join(comp.requires)}")
        ext = _extensions_of(list(comp.provides.values()))
        out.append(f"    extensions: {', '.join(ext) or 'none'}")
        if comp.deviations and args.deviations:
            out.append(f"    known deviations ({len(comp.deviations)}, each a strict expected failure of the suite):")
            out += [f"      {case}: {reason}" for case, reason in comp.deviations.items()]
        elif comp.deviations:
            out.append(
                f"    known deviations: {len(comp.deviations)} (listed by 'nettls components --deviations', "
                "and in docs/components.md)"
            )
        if status.origin:
            out.append(f"    from {status.origin}")

    if args.component is None:
        out.append("")
        env = os.environ.get(LINKS_VARIABLE)
        source = f"{LINKS_VARIABLE}={env}" if env else f"{LINKS_VARIABLE} unset"
        out.append(f"Links (the package manifest, then {source}):")
        out += [f"  {name} -> {to or '(not linked)'}" for name, to in links.items()]
    write_lines(out)
    return EXIT_OK
