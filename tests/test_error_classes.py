"""The finer TLS errors (SPEC 9 and docs/reference/errors.md) at the sites
outside the session: each is a subclass of the error raised there before, so
an ``except`` written for the old class still catches it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import pytest

import nettls
from nettls.interfaces import errors
from nettls.pki import throwaway_pki

COMPONENTS = ["stdlib", "pyopenssl"]


@pytest.fixture(scope="module")
def store_pem() -> str:
    return throwaway_pki().root.cert_pem


def _server_only_calls(store: Any, leaf: Any) -> list[tuple[str, Callable[[Any], object]]]:
    return [
        ("setClientCertificatePolicy()", lambda ctx: ctx.setClientCertificatePolicy(ctx.CLIENT_CERT_REQUIRE, store)),
        ("setCertificateForName()", lambda ctx: ctx.setCertificateForName("example.test", leaf.cert_pem, leaf.key_pem)),
    ]


@pytest.mark.parametrize("component", COMPONENTS)
def test_an_extension_call_for_the_other_mode_is_a_mode_error(component: str, store_pem: str) -> None:
    tls: Any = nettls.resolve_tls(component)
    store = tls.TLSCertStore()
    store.addCertificate(store_pem)
    leaf = throwaway_pki().leaf
    client = tls.TLSContext(tls.TLSContext.CLIENT)
    for call, make in _server_only_calls(store, leaf):
        with pytest.raises(nettls.TLSModeError, match=re.escape(f"{call} is for SERVER contexts; this context is CLIENT")):
            make(client)
    server = tls.TLSContext(tls.TLSContext.SERVER)
    with pytest.raises(nettls.TLSModeError, match=r"setVerifyOnConnect\(\) is for CLIENT contexts; this context is SERVER"):
        server.setVerifyOnConnect(store)
    assert issubclass(nettls.TLSModeError, nettls.TLSError)  # what these raised before


def test_the_errors_page_maps_every_error_class() -> None:
    """docs/reference/errors.md is the one place that says who raises what."""
    page = Path(__file__).resolve().parent.parent / "docs" / "reference" / "errors.md"
    if not page.is_file():
        pytest.skip("needs the source tree (docs/ beside tests/)")
    text = page.read_text(encoding="utf-8")
    missing = [name for name in errors.__all__ if f"| [`{name}`](" not in text]
    assert missing == [], f"docs/reference/errors.md has no row for {missing}"


def test_the_async_layers_refuse_the_other_modes_context_with_a_mode_error() -> None:
    """nettls.aio's asyncio and anyio entry points: TLSModeError, still a ValueError
    (what they raised before it existed)."""
    anyio = pytest.importorskip("anyio")
    import nettls.aio

    tls: Any = nettls.resolve_tls("stdlib")
    server_ctx = tls.TLSContext(tls.TLSContext.SERVER)
    client_ctx = tls.TLSContext(tls.TLSContext.CLIENT)

    async def main() -> None:
        with pytest.raises(nettls.TLSModeError, match="CLIENT context"):
            await nettls.aio.connect_tls("127.0.0.1", 1, context=server_ctx)
        with pytest.raises(nettls.TLSModeError, match="SERVER context"):
            nettls.aio.TLSListener("127.0.0.1", 0, context=client_ctx)
        with pytest.raises(ValueError, match="CLIENT context"):
            await nettls.aio.create_connection(lambda: None, "127.0.0.1", 1, context=server_ctx)  # type: ignore[arg-type,return-value]

    anyio.run(main)
