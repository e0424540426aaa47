"""Certificates for the stand-ins: a trusted test authority and an untrusted impostor.

The trusted authority signs one server certificate valid for every exchange host the
stand-ins answer for (and for 127.0.0.1 and localhost), so TLS verifies the real host
name while the socket goes to loopback. The impostor authority signs a certificate for
the same names that no client trusts: it proves that a certificate from an unknown
authority is refused before any HTTP request is sent.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import certifi
import trustme

BINANCE_HOSTS = ("api.binance.com", "fapi.binance.com", "dapi.binance.com")
BINANCE_SANDBOX_HOSTS = ("testnet.binance.vision", "testnet.binancefuture.com")
COINBASE_HOSTS = ("api.coinbase.com",)
KRAKEN_HOSTS = ("api.kraken.com",)
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
EXCHANGE_HOSTS = BINANCE_HOSTS + BINANCE_SANDBOX_HOSTS + COINBASE_HOSTS + KRAKEN_HOSTS


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """A server certificate and its private key, for a server TLS context."""

    leaf: trustme.LeafCert

    def server_context(self) -> ssl.SSLContext:
        """A fresh TLS server context presenting this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.leaf.configure_cert(context)
        return context


class TestAuthorities:
    """The trusted test CA, an untrusted impostor CA, and the files clients load."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, directory: Path) -> None:
        self.trusted = trustme.CA(organization_name="crypto-trader test CA")
        self.impostor = trustme.CA(organization_name="crypto-trader impostor CA")
        names = (*EXCHANGE_HOSTS, *LOOPBACK_NAMES)
        self.server = ServerIdentity(self.trusted.issue_cert(*names))
        self.impostor_server = ServerIdentity(self.impostor.issue_cert(*names))
        self.wrong_host_server = ServerIdentity(self.trusted.issue_cert("example.org"))
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)  # whatever the umask or an existing folder allowed
        self.ca_cert_path = _write_private(
            directory / "test-ca.pem", self.trusted.cert_pem.bytes()
        )
        self.bundle_path = _write_private(
            directory / "ca-bundle.pem",
            Path(certifi.where()).read_bytes() + b"\n" + self.trusted.cert_pem.bytes(),
        )

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the public roots and the test CA."""
        return ssl.create_default_context(cafile=str(self.bundle_path))


def _write_private(path: Path, content: bytes) -> Path:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    os.chmod(path, 0o600)
    return path
