"""The host redirect: exchange names go to the stand-in, nothing leaves loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.exchange_standins.binance import BinanceStandin
from tests.support.exchange_standins.redirect import (
    REDIRECT_ENV,
    HostRedirect,
    InternetAccessRefusedError,
    environment_for,
    install_from_environment,
)
from tests.support.exchange_standins.tls import TestAuthorities

REPO_ROOT = Path(__file__).parents[2]
FIXED_NOW_S = 1_767_225_600.0

CHILD_SCRIPT = """
import json, socket, ssl, sys, urllib.request
from tests.support.exchange_standins.redirect import install_from_environment
install_from_environment()
context = ssl.create_default_context(cafile=sys.argv[1])
with urllib.request.urlopen(
    "https://api.binance.com/api/v3/time", context=context, timeout=10
) as answer:
    server_time = json.load(answer)["serverTime"]
try:
    socket.getaddrinfo("example.org", 443)
    outcome = "resolved"
except Exception as error:
    outcome = type(error).__name__
print(json.dumps({"serverTime": server_time, "example.org": outcome}))
"""


def test_routed_host_resolves_to_the_stand_in_port() -> None:
    with HostRedirect({"api.binance.com": 40_123}):
        answers = socket.getaddrinfo("API.Binance.com.", 443, 0, socket.SOCK_STREAM)

    assert {answer[4] for answer in answers} == {("127.0.0.1", 40_123)}


def test_other_host_names_are_refused_without_a_lookup() -> None:
    with (
        HostRedirect({"api.binance.com": 40_123}) as redirect,
        pytest.raises(InternetAccessRefusedError, match=r"example\.org"),
    ):
        socket.getaddrinfo("example.org", 443)

    assert redirect.refused == ["host 'example.org'"]


@pytest.mark.parametrize(
    ("family", "address"),
    [(socket.AF_INET, ("192.0.2.1", 443)), (socket.AF_INET6, ("2001:db8::1", 443))],
)
def test_connecting_off_loopback_is_refused(
    family: socket.AddressFamily, address: tuple[str, int]
) -> None:
    with HostRedirect({}) as redirect, socket.socket(family) as sock:
        with pytest.raises(InternetAccessRefusedError):
            sock.connect(address)
        with pytest.raises(InternetAccessRefusedError):
            sock.connect_ex(address)

    assert len(redirect.refused) == 2


def test_literal_addresses_are_checked_too() -> None:
    with HostRedirect({}), pytest.raises(InternetAccessRefusedError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)


def test_loopback_stays_reachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server, HostRedirect({}):
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=5) as client:
            accepted, _ = server.accept()
            accepted.close()

            assert client.getpeername()[0] == "127.0.0.1"


def test_leaving_the_redirect_restores_resolution_and_connect() -> None:
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    with HostRedirect({"api.binance.com": 40_123}):
        assert socket.getaddrinfo is not real_getaddrinfo

    assert socket.getaddrinfo is real_getaddrinfo
    assert socket.socket.connect is real_connect


def test_a_second_redirect_cannot_be_stacked() -> None:
    with HostRedirect({}), pytest.raises(RuntimeError, match="already installed"):
        HostRedirect({}).install()


def test_environment_round_trips_the_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    routes = {"api.coinbase.com": 40_124, "api.binance.com": 40_123}
    for name, value in environment_for(routes).items():
        monkeypatch.setenv(name, value)

    redirect = install_from_environment()
    assert redirect is not None
    redirect.uninstall()

    assert redirect.routes == routes


def test_without_the_variable_nothing_is_installed() -> None:
    real_getaddrinfo = socket.getaddrinfo

    assert REDIRECT_ENV not in os.environ
    assert install_from_environment() is None
    assert socket.getaddrinfo is real_getaddrinfo


@pytest.mark.slow
def test_child_process_installs_the_redirect_from_its_environment(
    binance: BinanceStandin, standin_authorities: TestAuthorities
) -> None:
    binance.clock = lambda: FIXED_NOW_S
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        **environment_for(binance.routes),
    }

    child = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, str(standin_authorities.bundle_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == {
        "serverTime": int(FIXED_NOW_S * 1000),
        "example.org": "InternetAccessRefusedError",
    }
    assert [r.path for r in binance.requests] == ["/api/v3/time"]
