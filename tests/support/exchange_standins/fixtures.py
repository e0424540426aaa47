"""Pytest fixtures for tests that talk to the stand-ins.

Use them from a test folder's conftest.py:

    from tests.support.exchange_standins.fixtures import *  # noqa: F403

The servers start once per session; each test gets them reset, with the host
redirect installed for the test's duration, and fails if anything tried to reach a
host that is not a stand-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests.support.exchange_standins.binance import BinanceStandin
from tests.support.exchange_standins.clients import ccxt_client
from tests.support.exchange_standins.coinbase import CoinbaseStandin
from tests.support.exchange_standins.kraken import KrakenStandin
from tests.support.exchange_standins.redirect import HostRedirect
from tests.support.exchange_standins.server import Standin
from tests.support.exchange_standins.tls import TestAuthorities

__all__ = [
    "binance",
    "binance_server",
    "ccxt_factory",
    "coinbase",
    "coinbase_server",
    "exchange_redirect",
    "kraken",
    "kraken_server",
    "standin_authorities",
]


@pytest.fixture(scope="session")
def standin_authorities(tmp_path_factory: pytest.TempPathFactory) -> TestAuthorities:
    """The trusted test CA (and its bundle files) and the untrusted impostor CA."""
    return TestAuthorities(tmp_path_factory.mktemp("standin-tls"))


@pytest.fixture(scope="session")
def binance_server(standin_authorities: TestAuthorities) -> Iterator[BinanceStandin]:
    """The Binance stand-in, started once for the session."""
    standin = BinanceStandin(standin_authorities.server)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def coinbase_server(
    standin_authorities: TestAuthorities,
) -> Iterator[CoinbaseStandin]:
    """The Coinbase stand-in, started once for the session."""
    standin = CoinbaseStandin(standin_authorities.server)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def kraken_server(standin_authorities: TestAuthorities) -> Iterator[KrakenStandin]:
    """The Kraken stand-in, started once for the session."""
    standin = KrakenStandin(standin_authorities.server)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def exchange_redirect(
    binance_server: BinanceStandin,
    coinbase_server: CoinbaseStandin,
    kraken_server: KrakenStandin,
) -> Iterator[HostRedirect]:
    """Exchange hosts go to the stand-ins; any other destination is refused."""
    routes = binance_server.routes | coinbase_server.routes | kraken_server.routes
    with HostRedirect(routes) as redirect:
        yield redirect
    assert redirect.refused == [], f"tried to leave the machine: {redirect.refused}"


@pytest.fixture
def binance(
    binance_server: BinanceStandin,
    standin_authorities: TestAuthorities,
    exchange_redirect: HostRedirect,
) -> Iterator[BinanceStandin]:
    """The Binance stand-in, fresh for this test, with the redirect installed."""
    yield from _fresh(binance_server, standin_authorities)


@pytest.fixture
def coinbase(
    coinbase_server: CoinbaseStandin,
    standin_authorities: TestAuthorities,
    exchange_redirect: HostRedirect,
) -> Iterator[CoinbaseStandin]:
    """The Coinbase stand-in, fresh for this test, with the redirect installed."""
    yield from _fresh(coinbase_server, standin_authorities)


@pytest.fixture
def kraken(
    kraken_server: KrakenStandin,
    standin_authorities: TestAuthorities,
    exchange_redirect: HostRedirect,
) -> Iterator[KrakenStandin]:
    """The Kraken stand-in, fresh for this test, with the redirect installed."""
    yield from _fresh(kraken_server, standin_authorities)


StandinT = TypeVar("StandinT", bound=Standin)


def _fresh(standin: StandinT, authorities: TestAuthorities) -> Iterator[StandinT]:
    """The stand-in reset for one test; fails the test if the stand-in itself broke."""
    standin.reset()
    standin.use_identity(authorities.server)
    yield standin
    errors = standin.internal_errors
    standin.reset()
    assert errors == [], f"{type(standin).__name__} failed:\n" + "\n".join(errors)


@pytest.fixture
def ccxt_factory(standin_authorities: TestAuthorities) -> Iterator[Callable[..., Any]]:
    """Builds real ccxt clients that trust the test CA; closes them afterwards.

    ccxt's own rate limiter is off unless a test passes enableRateLimit=True: its
    per-endpoint costs would make every test sleep (Binance's account call alone
    waits 250 ms).
    """
    clients: list[Any] = []

    def build(exchange_id: str, **config: Any) -> Any:
        config = {"enableRateLimit": False, **config}
        client = ccxt_client(exchange_id, standin_authorities.bundle_path, **config)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
