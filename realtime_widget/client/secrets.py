"""Ephemeral client secrets: a short-lived credential for one realtime session.

:func:`create_client_secret` POSTs ``{"expires_after", "session"}`` to the
``/client_secrets`` address beside the realtime socket's (:func:`client_secrets_url`: https
for ``wss://``, http for ``ws://``) with the client's credentials, through ``httpx``, and
returns a :class:`ClientSecret`. The credentials go in the request's headers only: they are
never logged, and the secret's ``repr`` shows only the start of its value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from realtime_widget.core.checks import need_int, need_number
from realtime_widget.core.errors import (
    AuthenticationError,
    ConnectError,
    ConnectTimeoutError,
    ServerUnreachableError,
    UsageError,
)
from realtime_widget.core.redaction import redact

__all__ = [
    "MAX_EXPIRY_SECONDS",
    "MIN_EXPIRY_SECONDS",
    "ClientSecret",
    "calls_url",
    "client_secrets_url",
    "create_client_secret",
    "expires_after",
]

logger = logging.getLogger("realtime_widget.client")

MIN_EXPIRY_SECONDS: Final = 10
MAX_EXPIRY_SECONDS: Final = 7200
_SCHEMES: Final = {"ws": "http", "wss": "https"}


@dataclass(frozen=True)
class ClientSecret:
    """A client secret: its ``value`` (``ek_...``, the credential a client connects with),
    ``expires_at`` (Unix seconds) and the ``session`` it opens, as the server states it."""

    value: str = field(repr=False)
    expires_at: int
    session: dict[str, Any] = field(repr=False)

    def __repr__(self) -> str:
        return f"ClientSecret(value='{self.value[:6]}…', expires_at={self.expires_at})"


def client_secrets_url(socket_url: str) -> str:
    """The client secrets address beside a realtime socket's: the same host and path plus
    ``/client_secrets``, https for ``wss://`` and http for ``ws://``, the query's ``model``
    and ``deployment`` left out. Raises :class:`UsageError` for any other scheme."""
    parts = urlsplit(socket_url)
    scheme = _SCHEMES.get(parts.scheme)
    if scheme is None:
        raise UsageError(f"url must be a ws:// or wss:// address, got {redact(socket_url)!r}")
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("model", "deployment")]
    path = parts.path.rstrip("/") + "/client_secrets"
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


def calls_url(socket_url: str) -> str:
    """The WebRTC calls address beside a realtime socket's: the same host and path plus
    ``/calls``, https for ``wss://`` and http for ``ws://``, with no query (a page posts its
    offer there with a client secret, never with the socket's credentials). Raises
    :class:`UsageError` for any other scheme."""
    parts = urlsplit(socket_url)
    scheme = _SCHEMES.get(parts.scheme)
    if scheme is None:
        raise UsageError(f"url must be a ws:// or wss:// address, got {redact(socket_url)!r}")
    netloc = parts.netloc.rsplit("@", 1)[-1]  # no user or password
    return urlunsplit((scheme, netloc, parts.path.rstrip("/") + "/calls", "", ""))


def expires_after(value: int | Mapping[str, Any]) -> dict[str, Any]:
    """The ``expires_after`` of a request: seconds, or ``{"anchor": "created_at", "seconds":
    n}``; :class:`UsageError` unless ``n`` is from 10 to 7200."""
    seconds: object = value
    if isinstance(value, Mapping):
        if set(value) - {"anchor", "seconds"} or value.get("anchor", "created_at") != (
            "created_at"
        ):
            raise UsageError(
                f"expires_after must be {{'anchor': 'created_at', 'seconds': n}}, got {value!r}"
            )
        seconds = value.get("seconds", 600)
    expected = f"an int from {MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS} (seconds)"
    checked = need_int(
        "expires_after", seconds, expected, low=MIN_EXPIRY_SECONDS, high=MAX_EXPIRY_SECONDS
    )
    return {"anchor": "created_at", "seconds": checked}


async def create_client_secret(
    socket_url: str,
    headers: Mapping[str, str],
    *,
    session: Mapping[str, Any],
    expiry: int | Mapping[str, Any] = 600,
    timeout: float = 10.0,
) -> ClientSecret:
    """Ask the server beside ``socket_url`` for a client secret (see the module docstring).

    ``headers`` carry the credentials; ``session`` is the session the secret opens.
    Raises :class:`UsageError` for bad arguments, :class:`AuthenticationError` when the
    server refuses the credentials (401, 403), :class:`ConnectTimeoutError` after
    ``timeout`` seconds, :class:`ServerUnreachableError` when it cannot be reached and
    :class:`ConnectError` for any other failure (the server's message included).
    """
    url = client_secrets_url(socket_url)
    shown = redact(url)
    seconds = float(need_number("timeout", timeout, "a positive number", above=0))
    body = {"expires_after": expires_after(expiry), "session": dict(session)}
    try:
        async with httpx.AsyncClient(timeout=seconds, follow_redirects=False) as http:
            answer = await http.post(url, json=body, headers=dict(headers))
    except httpx.TimeoutException:
        raise ConnectTimeoutError(
            f"no client secret from {shown} within {timeout}s", url=shown
        ) from None
    except httpx.HTTPError as exc:
        raise ServerUnreachableError(f"cannot reach {shown}: {exc}", url=shown) from None
    if answer.status_code in (401, 403):
        raise AuthenticationError(
            f"{shown} refused the credentials ({answer.status_code})",
            url=shown,
            status=answer.status_code,
        )
    if answer.status_code != 200:
        raise ConnectError(f"{shown} answered {answer.status_code}: {answer.text[:300]}", url=shown)
    try:
        data = answer.json()
        secret = ClientSecret(
            value=str(data["value"]),
            expires_at=int(data["expires_at"]),
            session=dict(data.get("session") or {}),
        )
    except (ValueError, KeyError, TypeError):
        raise ConnectError(
            f"{shown} answered something that is not a client secret", url=shown
        ) from None
    logger.info("client secret from %s, expires at %d", shown, secret.expires_at)
    return secret
