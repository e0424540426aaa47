"""ccxt's errors, translated into the project's at the door."""

from __future__ import annotations

import re
import ssl

from crypto_trader import errors

_QUERY = re.compile(r"\?\S*")


def is_certificate_failure(exc: BaseException) -> bool:
    """Whether a TLS certificate check is somewhere in the exception's causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def translate(
    exc: Exception, exchange_id: str, request: str
) -> errors.CryptoTraderError:
    """The project's error for a ccxt error; messages lose URLs' query strings."""
    import ccxt

    if is_certificate_failure(exc):
        return errors.TlsVerificationError(
            f"{exchange_id}: the server's certificate failed verification ({request}); "
            "the connection was not used. If a corporate proxy inspects TLS, set "
            "exchange.extra_ca_file to its CA certificate"
        )
    detail = _QUERY.sub("?…", str(exc))[:300]
    if '"code":-2015' in str(exc) or "EAPI:Invalid signature" in str(exc):
        # Binance's key/IP/permission refusal can surface as DDoSProtection, and
        # Kraken's bad signature as a plain ExchangeError.
        return errors.ExchangeAuthenticationError(
            f"{exchange_id}: the exchange refused the key, its IP or its permissions "
            f"({request}): {detail}"
        )
    table: list[tuple[type[Exception], type[errors.CryptoTraderError], str]] = [
        (
            ccxt.PermissionDenied,
            errors.ExchangePermissionError,
            "the exchange says this key may not do that",
        ),
        (
            ccxt.AccountSuspended,
            errors.ExchangePermissionError,
            "the account is suspended",
        ),
        (
            ccxt.AuthenticationError,
            errors.ExchangeAuthenticationError,
            "the exchange refused the key or its signature; check the key with "
            "crypto-trader keys update",
        ),
        (ccxt.InsufficientFunds, errors.InsufficientFundsError, "insufficient funds"),
        (ccxt.InvalidOrder, errors.InvalidOrderError, "the order was refused"),
        (ccxt.BadSymbol, errors.InputError, "unknown symbol on this exchange"),
        (ccxt.BadRequest, errors.InvalidOrderError, "the exchange refused the request"),
        (
            ccxt.InvalidNonce,
            errors.ExchangeAuthenticationError,
            "the exchange refused the request's timestamp; check the system clock",
        ),
        (ccxt.RateLimitExceeded, errors.RateLimitedError, "rate limited"),
        (ccxt.DDoSProtection, errors.RateLimitedError, "rate limited"),
        (
            ccxt.ExchangeNotAvailable,
            errors.ExchangeUnavailableError,
            "the exchange is unavailable",
        ),
        (ccxt.RequestTimeout, errors.ExchangeNetworkError, "no answer in time"),
        (ccxt.NetworkError, errors.ExchangeNetworkError, "network error"),
        (
            ccxt.BadResponse,
            errors.ExchangeUnavailableError,
            "the exchange sent an unreadable answer",
        ),
        (
            ccxt.OperationFailed,
            errors.ExchangeUnavailableError,
            "the exchange failed to answer",
        ),
        (
            ccxt.NotSupported,
            errors.ConfigurationError,
            "ccxt does not support this call for this exchange",
        ),
    ]
    for ccxt_class, ours, summary in table:
        if isinstance(exc, ccxt_class):
            return ours(f"{exchange_id}: {summary} ({request}): {detail}")
    return errors.ExchangeError(f"{exchange_id}: request failed ({request}): {detail}")
