"""``nettls.hostname``: RFC 6125 host-name checks and server-name normalisation."""

from __future__ import annotations

import pytest

import nettls
from nettls.hostname import check_host_name, host_name_matches, name_pattern, pattern_matches, server_name
from nettls.pki import issue


def cert(*names: str, common_name: str = "nettls test") -> str:
    return issue(common_name, names=names).cert_pem


@pytest.mark.parametrize(
    "names, asked, ok",
    [
        (("www.example.com",), "www.example.com", True),
        (("www.example.com",), "WWW.Example.COM", True),
        (("www.example.com",), "www.example.com.", True),
        (("*.example.com",), "www.example.com", True),
        (("*.example.com",), "example.com", False),
        (("*.example.com",), "a.b.example.com", False),
        (("*.example.com",), "xn--bcher-kva.example.com", False),  # no wildcard over an A-label
        (("w*.example.com",), "www.example.com", False),  # partial wildcards match nothing
        (("*.com",), "example.com", False),  # too few labels under the wildcard
        (("xn--bcher-kva.example",), "bücher.example", True),  # IDNA: compared as A-labels
        (("xn--bcher-kva.example",), "BÜCHER.example", True),
        (("127.0.0.1",), "127.0.0.1", True),
        (("::1",), "[::1]", True),
        (("::1",), "0:0:0:0:0:0:0:1", True),
        (("localhost",), "127.0.0.1", False),  # an address is checked against IP entries only
        (("127.0.0.1",), "localhost", False),
        (("127.0.0.2", "localhost"), "127.0.0.1", False),
    ],
)
def test_rfc6125_rules(names, asked, ok):
    pem = cert(*names)
    reason = check_host_name(pem, asked)
    assert (reason is None) is ok, reason
    assert host_name_matches(pem, asked) is ok
    if not ok:
        assert server_name(asked).text in reason


def test_no_common_name_fallback():
    pem = issue("localhost").cert_pem  # CN=localhost, no subject alternative names
    reason = check_host_name(pem, "localhost")
    assert reason is not None and "no subject alternative names" in reason
    assert check_host_name(cert("other.example", common_name="localhost"), "localhost") is not None


def test_malformed_entries_are_skipped_not_fatal():
    """A DNS entry that is really an address, and a wildcard over a top-level
    domain: service_identity refuses such a certificate outright; the entries
    are skipped instead (as OpenSSL and browsers do)."""
    weird = _with_dns_names(["127.0.0.1", "*.com", "www.example.com"])
    assert check_host_name(weird, "www.example.com") is None
    assert check_host_name(weird, "example.com") is not None
    assert check_host_name(weird, "127.0.0.1") is not None, "a DNS entry never matches an address"


def _with_dns_names(names):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weird")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )


def test_inputs():
    pem = cert("www.example.com")
    assert check_host_name(pem.encode(), "www.example.com") is None
    with pytest.raises(nettls.CertificateError):
        check_host_name("not a certificate", "www.example.com")
    with pytest.raises(nettls.CertificateError):
        check_host_name(42, "www.example.com")
    for bad in ("", "a b", "-x.example", "x..example", "[www.example.com]", "x" * 64 + ".example"):
        with pytest.raises(ValueError):
            check_host_name(pem, bad)
    with pytest.raises(TypeError):
        check_host_name(pem, b"www.example.com")


def test_server_names():
    assert server_name("WWW.Example.COM.") == server_name("www.example.com")
    assert server_name("www.example.com").sni == "www.example.com"
    assert server_name("Bücher.example").text == "xn--bcher-kva.example"
    address = server_name("[::1]")
    assert address.is_ip and address.text == "::1" and address.sni is None
    assert server_name("_acme-challenge.example.com").text == "_acme-challenge.example.com"


def test_name_patterns():
    assert name_pattern("*.Example.ORG") == "*.example.org"
    assert name_pattern("www.example.org") == "www.example.org"
    for bad in ("*", "*.org", "w*.example.org", "127.0.0.1", "*.*.example.org"):
        with pytest.raises(ValueError):
            name_pattern(bad)
    assert pattern_matches("*.example.org", "api.example.org")
    assert not pattern_matches("*.example.org", "example.org")
    assert not pattern_matches("*.example.org", "a.b.example.org")
    assert pattern_matches("www.example.org", "www.example.org")
