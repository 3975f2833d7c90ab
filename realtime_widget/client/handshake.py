"""Opening the websocket of a :class:`~realtime_widget.client.api.RealtimeAPI`.

- :func:`open_socket` opens it and maps every failure to the :class:`ConnectError` family
  (:class:`AuthenticationError` for HTTP 401/403, :class:`DNSError`,
  :class:`ConnectTimeoutError`, :class:`ServerUnreachableError`), its message redacted.
- Credentials never follow a redirect to another origin (scheme, host or port): when the
  handshake carries any, such a redirect fails with :class:`RedirectRefusedError` naming
  both hosts, before anything is sent to the new one (websockets itself drops only
  ``Authorization`` and cookies there, so ``api-key`` and any other header would go on).
- :func:`environment_key_allowed` says where ``$OPENAI_API_KEY`` may go: ``wss://`` to
  OpenAI's and Azure OpenAI's hosts only.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, InvalidURI
from websockets.uri import parse_uri

from realtime_widget.core.errors import (
    AuthenticationError,
    ConnectError,
    ConnectTimeoutError,
    DNSError,
    RedirectRefusedError,
    ServerUnreachableError,
    UsageError,
)
from realtime_widget.core.redaction import RedactingLogger, Redactor, redact

__all__ = ["DEFAULT_URL", "environment_key_allowed", "open_socket"]

DEFAULT_URL = "wss://api.openai.com/v1/realtime"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

_KEY_HOST_SUFFIXES = (".openai.com", ".openai.azure.com")


def environment_key_allowed(url: str | None) -> bool:
    """Whether ``$OPENAI_API_KEY`` may be sent to ``url``: ``wss://`` to OpenAI or Azure OpenAI."""
    parts = urlsplit(url or DEFAULT_URL)
    host = (parts.hostname or "").lower()
    return parts.scheme == "wss" and host.endswith(_KEY_HOST_SUFFIXES)


def _origin(uri: str) -> tuple[bool, str, int]:
    parsed = parse_uri(uri)
    return parsed.secure, parsed.host, parsed.port


def _host(uri: str) -> str:
    parsed = parse_uri(uri)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{host}:{parsed.port}"


class _Connect(connect):
    """websockets' ``connect``, refusing a redirect to another origin when the handshake
    carries credentials."""

    def __init__(self, uri: str, *, credentials: bool, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        self._credentials = credentials

    def process_redirect(self, exc: Exception) -> Exception | str:
        target = super().process_redirect(exc)
        if isinstance(target, str) and self._credentials and _origin(target) != _origin(self.uri):
            origin, elsewhere = _host(self.uri), _host(target)
            return RedirectRefusedError(
                f"refused a redirect from {origin} to {elsewhere}: credentials are not "
                "sent to another host (connect to the new address directly)",
                url=redact(self.uri),
                origin=origin,
                target=elsewhere,
            )
        return target


async def open_socket(
    url: str,
    *,
    shown: str,
    headers: Mapping[str, str],
    credentials: bool,
    redactor: Redactor,
    max_frame_bytes: int,
    max_receive_queue_frames: int,
    ping_interval: float | None,
    ping_timeout: float | None,
    close_timeout: float,
    open_timeout: float,
) -> ClientConnection:
    """The socket opened to ``url`` (credentials included; ``shown`` is how it is displayed).

    ``credentials``: the handshake carries some (no redirect to another origin). Raises the
    :class:`ConnectError` family, or :class:`UsageError` for a URL websockets refuses.
    """
    host = urlsplit(url).hostname or ""
    try:
        return await _Connect(
            url,
            credentials=credentials,
            additional_headers=dict(headers),
            max_size=max_frame_bytes,
            max_queue=max_receive_queue_frames,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            open_timeout=open_timeout,
            compression=None,
            proxy=None if host in _LOOPBACK else True,
            user_agent_header="realtime_widget",
            logger=RedactingLogger("realtime_widget.websockets", redactor),
        )
    except RedirectRefusedError as exc:
        raise exc from None
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise AuthenticationError(
                f"the server refused the credentials (HTTP {status}): check the api key",
                url=shown,
                status=status,
            ) from None
        raise ServerUnreachableError(
            f"the server rejected the connection with HTTP {status}", url=shown
        ) from None
    except InvalidURI as exc:
        raise UsageError(redactor(f"invalid url {shown!r}: {exc}")) from None
    except socket.gaierror as exc:
        raise DNSError(f"cannot resolve host {host!r}: {exc.strerror}", url=shown) from None
    except TimeoutError:
        raise ConnectTimeoutError(
            f"no connection to {shown} within {open_timeout:g} s", url=shown
        ) from None
    except OSError as exc:
        message = f"cannot connect to {shown}: {exc.strerror or exc}"
        raise ServerUnreachableError(redactor(message), url=shown) from None
    except Exception as exc:  # any other handshake failure
        message = f"cannot connect to {shown}: {exc}"
        raise ConnectError(redactor(message), url=shown) from None
