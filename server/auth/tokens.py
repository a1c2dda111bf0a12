"""Access tokens: short-lived HS256 JWTs naming a user, a device, the role at issue time and
the session they belong to (`sid`: the refresh token issued with them).

PyJWT checks the signature against an explicit algorithm list (so `alg: none` and algorithm
confusion are refused), the required claims, the issuer and the audience. The time claims are
checked here against the caller's `now` instead of PyJWT's wall clock, so the whole auth layer
runs on one injectable clock; the checks are the same (exp strict, nbf and iat not in the
future beyond a small skew).

A device sends the same access token with every request until it expires, so a verified
token's claims are kept (VERIFIED_CACHE tokens, per key, issuer and audience): the signature
and claim structure are checked once per token, its lifetime on every request, and the user,
device and session in the database on every request (server.auth.principal), so a revoked
session ends at once instead of when its access tokens expire.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import jwt

from server.auth.errors import InvalidToken, TokenExpired
from server.auth.settings import AuthSettings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "did", "sid", "role", "iss", "aud", "iat", "nbf", "exp", "jti")
# Tolerated clock difference between the workers that issue and verify a token.
CLOCK_SKEW = timedelta(seconds=10)
MAX_TIMESTAMP = 253402300800  # 10000-01-01: datetime's limit
VERIFIED_CACHE = 4096  # tokens; a few hundred bytes each


@dataclass(frozen=True)
class AccessClaims:
    """The verified content of an access token."""

    user_id: str
    device_id: str
    session_id: str  # the refresh token issued with this access token
    role: str
    token_id: str
    expires_at: datetime


def issue_access_token(settings: AuthSettings, *, user_id: str, device_id: str,
                       session_id: str, role: str, now: datetime) -> str:
    """A signed access token valid from `now` for settings.access_ttl, bound to the session
    `session_id` (the id of the refresh token issued with it): it works while that refresh
    token is not revoked."""
    issued = int(now.timestamp())
    claims = {
        "sub": user_id,
        "did": device_id,
        "sid": session_id,
        "role": str(role),
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(settings.access_ttl.total_seconds()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_access_token(settings: AuthSettings, token: str, *, now: datetime) -> AccessClaims:
    """Verify `token` and return its claims.

    Raises TokenExpired when it is past its expiry and InvalidToken for anything else wrong:
    malformed, unsigned, another algorithm, another key, wrong issuer or audience, missing
    or mistyped claims, not valid yet.
    """
    claims = _verified_claims(settings, token)
    _check_lifetime(claims, now)
    return AccessClaims(
        user_id=claims["sub"],
        device_id=claims["did"],
        session_id=claims["sid"],
        role=claims["role"],
        token_id=claims["jti"],
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
    )


def _verified_claims(settings: AuthSettings, token: str) -> Mapping:
    return _verified(token, settings.secret_key, settings.audience, settings.issuer)


@functools.lru_cache(maxsize=VERIFIED_CACHE)
def _verified(token: str, secret_key: str, audience: str, issuer: str) -> Mapping:
    """The claims of a token whose signature, issuer, audience and required claims hold
    (refusals raise, and are not kept); checked claim types too, so a kept token is one
    that only its lifetime can still refuse."""
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require": list(REQUIRED_CLAIMS),
                # Checked by _check_lifetime against the injected clock.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken() from exc
    _check_claim_types(claims)
    return MappingProxyType(claims)


def _check_claim_types(claims: Mapping) -> None:
    for name in ("sub", "did", "sid", "role", "jti"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise InvalidToken()
    for name in ("sub", "did", "sid"):
        _check_uuid(claims[name])
    for name in ("iat", "nbf", "exp"):
        if not isinstance(claims[name], int) or isinstance(claims[name], bool):
            raise InvalidToken()


def _check_uuid(value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise InvalidToken() from None


def _check_lifetime(claims: Mapping, now: datetime) -> None:
    # Bounds first, so that no later conversion of a signed but absurd value can fail.
    if not all(0 <= claims[name] < MAX_TIMESTAMP for name in ("iat", "nbf", "exp")):
        raise InvalidToken()
    current = now.timestamp()
    skew = CLOCK_SKEW.total_seconds()
    if claims["exp"] <= current:
        raise TokenExpired()
    if claims["nbf"] > current + skew or claims["iat"] > current + skew:
        raise InvalidToken("The access token is not valid yet")
