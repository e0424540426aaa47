"""Coinbase CDP API keys and the per-request JWT check, as api.coinbase.com does it.

A CDP key is named "organizations/{org}/apiKeys/{id}" and its secret is an EC P-256
private key in PEM. Every private request carries `Authorization: Bearer <JWT>`
signed with it: header alg ES256, kid = the key name; claims sub = the key name,
iss "cdp" or "coinbase-cloud" (ccxt sends the latter), nbf/exp bracketing now and
at most 120 s apart, and uri = "METHOD host/path" without the query (or a `uris`
list holding it). Anything wrong is a plain 401 "Unauthorized", whatever the cause.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.exchange_standins.messages import ApiError, RecordedRequest, Reply

_ISSUERS = ("cdp", "coinbase-cloud")
_MAX_LIFETIME_S = 120


@dataclass(frozen=True, slots=True)
class CoinbaseKey:
    """A CDP API key: its name, PEM secret, and the rights Coinbase reports."""

    name: str
    secret: str
    can_view: bool = True
    can_trade: bool = False
    can_transfer: bool = False
    portfolio_uuid: str = "5f3b2b8c-9d6e-4c1f-8a2e-2f1c9b7d4e10"

    @classmethod
    def generate(
        cls, can_view: bool = True, can_trade: bool = False, can_transfer: bool = False
    ) -> CoinbaseKey:
        """A fresh P-256 key in the format the CDP portal hands out."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
        return cls(name, pem, can_view, can_trade, can_transfer)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half of the key, which Coinbase keeps to check JWTs."""
        private_key = serialization.load_pem_private_key(
            self.secret.encode(), password=None
        )
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise TypeError("a CDP ECDSA key must be an EC private key")
        return private_key.public_key()


def unauthorized() -> ApiError:
    """Coinbase's answer to any authentication failure: says nothing about why."""
    return ApiError(Reply(401, b"Unauthorized\n", "text/plain; charset=utf-8"))


def authenticate(
    request: RecordedRequest,
    keys: dict[str, CoinbaseKey],
    public_keys: dict[str, ec.EllipticCurvePublicKey],
    now_s: float,
) -> CoinbaseKey:
    """The key that signed this request's JWT, or an ApiError (401)."""
    authorization = request.header("Authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme != "Bearer" or token.count(".") != 2:
        raise unauthorized()
    encoded_header, encoded_claims, encoded_signature = token.split(".")
    try:
        header = json.loads(_unbase64(encoded_header))
        claims = json.loads(_unbase64(encoded_claims))
        signature = _unbase64(encoded_signature)
    except ValueError:
        raise unauthorized() from None
    key = keys.get(str(header.get("kid")))
    if key is None or header.get("alg") != "ES256" or len(signature) != 64:
        raise unauthorized()
    signing_input = f"{encoded_header}.{encoded_claims}".encode()
    _verify_es256(public_keys[key.name], signature, signing_input)
    _check_claims(claims, key, request, now_s)
    return key


def _verify_es256(
    public_key: ec.EllipticCurvePublicKey, signature: bytes, signing_input: bytes
) -> None:
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    try:
        public_key.verify(
            encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise unauthorized() from None


def _check_claims(
    claims: dict[str, Any], key: CoinbaseKey, request: RecordedRequest, now_s: float
) -> None:
    expected_uri = f"{request.method} {request.host}{request.path}"
    uris = claims.get("uris") or [claims.get("uri")]
    not_before = claims.get("nbf")
    expires = claims.get("exp")
    if not isinstance(not_before, int) or not isinstance(expires, int):
        raise unauthorized()
    checks = (
        claims.get("sub") == key.name,
        claims.get("iss") in _ISSUERS,
        expected_uri in uris,
        not_before <= now_s < expires,
        expires - not_before <= _MAX_LIFETIME_S,
    )
    if not all(checks):
        raise unauthorized()


def _unbase64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
