"""Ephemeral client secrets of the local server: issued over HTTP, accepted as credentials.

``POST /v1/realtime/client_secrets`` (:func:`create_secret`) takes ``{"expires_after":
{"anchor": "created_at", "seconds": 10..7200}, "session": {...}}`` (both optional: 600
seconds, the default session), checks the session as ``session.update`` would, and answers
``{"value": "ek_...", "expires_at", "session"}``. :class:`ClientSecrets` keeps each secret
with its session until it expires: a handshake showing it opens that session; one showing
an expired or unknown ``ek_`` value is refused. The secrets store only what they open, no
credential of the caller's.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import realtime_widget.server.fields as f
from realtime_widget.core.protocol import DEFAULT_MODEL
from realtime_widget.server.sessionstate import SessionState
from realtime_widget.server.wire import ClientEventError, http_error

__all__ = ["PREFIX", "ClientSecrets", "IssuedSecret", "SecretState", "create_secret"]

PREFIX: Final = "ek_"
_MAX_LIVE: Final = 10_000  # secrets kept at once: the oldest go first past it
_DEFAULT_SECONDS: Final = 600

SecretState = Literal["valid", "expired", "unknown"]


@dataclass(frozen=True)
class IssuedSecret:
    """One secret: its value, when it expires (Unix seconds) and the session it opens."""

    value: str = field(repr=False)
    expires_at: int
    session: dict[str, Any] = field(repr=False)


@dataclass
class ClientSecrets:
    """The secrets issued and not yet forgotten; ``clock`` gives Unix seconds."""

    clock: Callable[[], float] = time.time
    issued: dict[str, IssuedSecret] = field(default_factory=dict, repr=False)

    def issue(self, session: dict[str, Any], seconds: int) -> IssuedSecret:
        """A new secret opening ``session`` (as the wire states it) for ``seconds``."""
        self._forget_expired()
        secret = IssuedSecret(
            value=PREFIX + secrets.token_urlsafe(24),
            expires_at=int(self.clock()) + seconds,
            session=session,
        )
        self.issued[secret.value] = secret
        if len(self.issued) > _MAX_LIVE:
            del self.issued[next(iter(self.issued))]
        return secret

    def state(self, value: str) -> SecretState:
        """Whether ``value`` is a secret that opens a session now."""
        secret = self.issued.get(value)
        if secret is None:
            return "unknown"
        return "valid" if self.clock() < secret.expires_at else "expired"

    def session(self, value: str) -> dict[str, Any] | None:
        """The session a valid secret opens, else ``None``."""
        return self.issued[value].session if self.state(value) == "valid" else None

    def _forget_expired(self) -> None:
        now = self.clock()
        for value in [v for v, s in self.issued.items() if s.expires_at <= now]:
            del self.issued[value]


def _expiry(value: Any) -> int:
    if value is None:
        return _DEFAULT_SECONDS
    spec = f.require_object(value, "expires_after")
    f.check_keys(spec, "expires_after", {"anchor", "seconds"})
    if spec.get("anchor", "created_at") != "created_at":
        raise ClientEventError.invalid_value(
            "expires_after.anchor", spec.get("anchor"), "'created_at'"
        )
    seconds = spec.get("seconds", _DEFAULT_SECONDS)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 10 <= seconds <= 7200:
        raise ClientEventError.invalid_value(
            "expires_after.seconds", seconds, "an integer from 10 to 7200"
        )
    return seconds


def create_secret(
    store: ClientSecrets, body: bytes, model: str = DEFAULT_MODEL
) -> tuple[int, dict[str, Any]]:
    """Answer a ``POST .../client_secrets`` with ``body``: ``(status, JSON object)``, 200
    with the secret or 400 with ``{"error": {type, code, message, param}}``."""
    try:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            raise ClientEventError("the body is not JSON", code="invalid_json") from None
        spec = f.require_object(request, "body")
        f.check_keys(spec, "body", {"expires_after", "session"})
        seconds = _expiry(spec.get("expires_after"))
        state = SessionState("ga", model=model)
        session = spec.get("session")
        if session is not None:
            state.apply_update(session)
    except ClientEventError as error:
        return http_error(error)
    secret = store.issue(session if isinstance(session, dict) else {}, seconds)
    return 200, {"value": secret.value, "expires_at": secret.expires_at, "session": state.to_wire()}
