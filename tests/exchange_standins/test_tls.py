"""TLS to the stand-ins: the test CA is trusted only where a test adds it, and a
certificate from another authority or for another host fails before any request."""

from __future__ import annotations

import asyncio
import ssl
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support
import certifi
import pytest
import requests

from tests.support.exchange_standins.binance import BinanceKey, BinanceStandin
from tests.support.exchange_standins.tls import TestAuthorities

FIXED_NOW_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from or during."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def certificate_failure(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """How the exchange layer can tell a certificate failure from other network
    errors: ccxt raises NetworkError (sync) or ExchangeNotAvailable (async) for
    both, and only the chain below holds the SSLCertVerificationError."""
    return next(
        (e for e in _chain(error) if isinstance(e, ssl.SSLCertVerificationError)),
        None,
    )


def test_bundle_files_are_private_and_hold_public_roots_plus_test_ca(
    standin_authorities: TestAuthorities,
) -> None:
    bundle = standin_authorities.bundle_path
    test_ca = standin_authorities.trusted.cert_pem.bytes()

    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    assert stat.S_IMODE(standin_authorities.ca_cert_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(bundle.parent.stat().st_mode) == 0o700
    assert bundle.read_bytes().startswith(Path(certifi.where()).read_bytes())
    assert bundle.read_bytes().endswith(test_ca)
    assert standin_authorities.ca_cert_path.read_bytes() == test_ca
    assert standin_authorities.impostor.cert_pem.bytes() not in bundle.read_bytes()


def test_ccxt_reaches_the_stand_in_under_the_real_host_name(
    binance: BinanceStandin, ccxt_factory: Callable[..., Any]
) -> None:
    binance.clock = lambda: FIXED_NOW_S
    client = ccxt_factory("binance")

    assert client.fetch_time() == int(FIXED_NOW_S * 1000)
    (request,) = binance.requests
    assert (request.host, request.path) == ("api.binance.com", "/api/v3/time")


def test_untrusted_authority_fails_the_handshake_before_the_key_is_sent(
    binance: BinanceStandin,
    standin_authorities: TestAuthorities,
    ccxt_factory: Callable[..., Any],
) -> None:
    key = binance.add_key(BinanceKey.generate(can_trade=True))
    binance.use_identity(standin_authorities.impostor_server)
    client = ccxt_factory("binance", apiKey=key.api_key, secret=key.secret)

    with pytest.raises(ccxt.NetworkError) as raised:
        client.fetch_balance()

    assert isinstance(raised.value.__cause__, requests.exceptions.SSLError)
    failure = certificate_failure(raised.value)
    assert failure is not None
    assert "unable to get local issuer certificate" in failure.verify_message
    handshakes = binance.wait_for_handshake_failures(1)
    assert "unknown ca" in handshakes[0].lower()
    assert binance.requests == []
    assert key.api_key not in str(raised.value)


def test_trusted_certificate_for_another_host_fails_the_hostname_check(
    binance: BinanceStandin,
    standin_authorities: TestAuthorities,
    ccxt_factory: Callable[..., Any],
) -> None:
    binance.use_identity(standin_authorities.wrong_host_server)
    client = ccxt_factory("binance")

    with pytest.raises(ccxt.NetworkError) as raised:
        client.fetch_time()

    failure = certificate_failure(raised.value)
    assert failure is not None
    assert "Hostname mismatch" in failure.verify_message
    assert binance.requests == []


def test_public_roots_alone_do_not_trust_the_test_ca(binance: BinanceStandin) -> None:
    client = ccxt.binance()
    try:
        with pytest.raises(ccxt.NetworkError) as raised:
            client.fetch_time()
    finally:
        client.close()

    assert certificate_failure(raised.value) is not None
    assert binance.requests == []


def test_ccxt_ignores_a_bundle_set_on_its_session(
    binance: BinanceStandin, standin_authorities: TestAuthorities
) -> None:
    """ccxt passes verify=True on every request, which wins over session.verify."""
    client = ccxt.binance()
    client.session.verify = str(standin_authorities.bundle_path)
    try:
        with pytest.raises(ccxt.NetworkError) as raised:
            client.fetch_time()
    finally:
        client.close()

    assert certificate_failure(raised.value) is not None


def test_bundle_session_refuses_to_turn_verification_off(
    binance: BinanceStandin, ccxt_factory: Callable[..., Any]
) -> None:
    client = ccxt_factory("binance", verify=False)

    with pytest.raises(ValueError, match="may not be turned off"):
        client.fetch_time()

    assert binance.requests == []


def test_other_network_errors_are_not_certificate_failures(
    binance: BinanceStandin, ccxt_factory: Callable[..., Any]
) -> None:
    from tests.support.exchange_standins.failures import Disconnect

    binance.inject(Disconnect())
    client = ccxt_factory("binance")

    with pytest.raises(ccxt.NetworkError) as raised:
        client.fetch_time()

    assert certificate_failure(raised.value) is None
    assert not isinstance(raised.value.__cause__, requests.exceptions.SSLError)


def test_async_ccxt_trusts_the_bundle_given_as_cafile(
    binance: BinanceStandin, standin_authorities: TestAuthorities
) -> None:
    """Async ccxt (aiohttp) takes a `cafile`; the same redirect applies to it."""
    binance.clock = lambda: FIXED_NOW_S

    async def fetch_time() -> int:
        client = ccxt.async_support.binance(
            {"cafile": str(standin_authorities.bundle_path)}
        )
        try:
            return int(await client.fetch_time())
        finally:
            await client.close()

    server_time = asyncio.run(fetch_time())
    binance.use_identity(standin_authorities.impostor_server)
    with pytest.raises(ccxt.ExchangeNotAvailable) as raised:
        asyncio.run(fetch_time())

    assert server_time == int(FIXED_NOW_S * 1000)
    assert certificate_failure(raised.value) is not None
    assert len(binance.requests) == 1
