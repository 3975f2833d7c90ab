"""The options of a :class:`~realtime_widget.client.client.RealtimeClient`, checked once, up front.

:func:`client_options` returns everything the client is built from as one
:class:`ClientOptions`, or raises :class:`UsageError` naming the first bad value (nothing is
built then). :func:`non_negative_int` checks a count given to a client method. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from realtime_widget.client.transport import Transport
from realtime_widget.core.checks import need_int, need_number
from realtime_widget.core.errors import UsageError
from realtime_widget.core.session import SessionConfig, SessionShape

__all__ = [
    "SETTINGS_KEYS",
    "TRANSPORT_KEYS",
    "ClientOptions",
    "client_options",
    "non_negative_int",
    "positive_limit",
    "seconds",
]

SETTINGS_KEYS: Final = frozenset(
    {"url", "api_key", "apiKey", "dangerouslyAllowAPIKeyInBrowser", "debug", "model", "dialect"}
)
TRANSPORT_KEYS: Final = frozenset(
    {
        "max_frame_bytes",
        "max_send_queue_bytes",
        "max_receive_queue_frames",
        "ping_interval",
        "ping_timeout",
        "close_timeout",
    }
)


@dataclass(frozen=True)
class ClientOptions:
    """The checked options of a client (see :func:`client_options`)."""

    url: str | None
    api_key: str | None  # None: not given (the client decides whether the environment's goes)
    shape: SessionShape
    debug: bool
    reconnect: bool
    config: SessionConfig  # the session config, with the model named by the settings
    connect_timeout: float
    reconnect_delays: tuple[float, ...]
    max_audio_seconds: float | None
    input_audio_retention_seconds: float
    transport: dict[str, Any]  # the RealtimeAPI limits given
    connection: Transport | None  # the transport given, if one was


def client_options(
    settings: Mapping[str, Any] | None,
    config: Mapping[str, Any] | None,
    *,
    url: str | None,
    api_key: str | None,
    model: str | None,
    dialect: SessionShape | None,
    debug: bool | None,
    reconnect: bool,
    connect_timeout: float,
    reconnect_delays: Sequence[float],
    max_audio_seconds: float | None,
    input_audio_retention_seconds: float,
    transport: Mapping[str, Any] | Transport | None,
    headers: Mapping[str, str] | None = None,
    azure: bool | None = None,
) -> ClientOptions:
    """Check the client's options; raises :class:`UsageError` naming the first bad value.

    The checks follow the client's signature's groups: ``transport``, the ``settings`` dict
    (only :data:`SETTINGS_KEYS`; a keyword argument wins over the setting of the same name),
    the settings themselves, the session ``config``, then the timings (finite numbers of
    seconds, not bools; ``connect_timeout`` positive). ``transport`` is a dict naming only
    :data:`TRANSPORT_KEYS` (their values are the socket layer's to check) or a
    :class:`~realtime_widget.client.transport.Transport`; beside a transport, ``url``,
    ``api_key``, ``headers`` and ``azure`` are refused, its dialect must be the session's
    (``"beta"`` for a beta session, else ``"ga"``), and the session's model is the
    transport's unless one is named.
    """
    connection = transport if isinstance(transport, Transport) else None
    if transport is not None and connection is None and not isinstance(transport, Mapping):
        raise UsageError(
            f"transport must be a dict of RealtimeAPI limits or a Transport, got {transport!r}"
        )
    limits = dict(transport) if isinstance(transport, Mapping) else {}
    unknown_limits = set(limits) - TRANSPORT_KEYS
    if unknown_limits:
        raise UsageError(
            f"unknown transport options {sorted(unknown_limits)!r}; "
            f"known: {sorted(TRANSPORT_KEYS)!r}"
        )
    if settings is not None and not isinstance(settings, Mapping):
        raise UsageError(f"settings must be a dict, got {settings!r}")
    settings = dict(settings or {})
    unknown = set(settings) - SETTINGS_KEYS
    if unknown:
        raise UsageError(f"unknown settings {sorted(unknown)!r}")
    url = _optional_str("url", url if url is not None else settings.get("url"))
    if api_key is None:
        api_key = settings.get("api_key", settings.get("apiKey"))
    api_key = _optional_str("api_key", api_key)
    model = _optional_str("model", model if model is not None else settings.get("model"))
    if model is not None and not model:
        raise UsageError("model must be a non-empty string, got ''")
    shape: SessionShape = dialect or settings.get("dialect") or "ga"
    if shape not in ("ga", "beta", "nested"):
        raise UsageError(f"dialect must be 'ga', 'beta' or 'nested', got {shape!r}")
    debug = debug if debug is not None else settings.get("debug", False)
    if not isinstance(debug, bool):
        raise UsageError(f"debug must be True or False, got {debug!r}")
    if not isinstance(reconnect, bool):
        raise UsageError(f"reconnect must be True or False, got {reconnect!r}")
    if connection is not None:
        _fits(connection, shape, url=url, api_key=api_key, headers=headers, azure=azure)
    session_config = SessionConfig(config, shape=shape)
    if connection is not None and not model and not _names_model(config):
        model = connection.model
    if model:
        session_config.update_config({"model": {"name": model}})
    timeout = seconds("connect_timeout", connect_timeout, positive=True)
    if isinstance(reconnect_delays, str | bytes) or not isinstance(reconnect_delays, Sequence):
        raise UsageError(f"reconnect_delays must be a list of seconds: {reconnect_delays!r}")
    try:
        delays = tuple(seconds("reconnect delay", d) for d in reconnect_delays)
    except UsageError:
        raise UsageError(
            f"reconnect_delays must be non-negative seconds: {reconnect_delays!r}"
        ) from None
    if max_audio_seconds is not None:
        max_audio_seconds = seconds("max_audio_seconds", max_audio_seconds)
    retention = seconds("input_audio_retention_seconds", input_audio_retention_seconds)
    return ClientOptions(
        url=url,
        api_key=api_key,
        shape=shape,
        debug=debug,
        reconnect=reconnect,
        config=session_config,
        connect_timeout=timeout,
        reconnect_delays=delays,
        max_audio_seconds=max_audio_seconds,
        input_audio_retention_seconds=retention,
        transport=limits,
        connection=connection,
    )


def _names_model(config: Mapping[str, Any] | None) -> bool:
    group = config.get("model") if isinstance(config, Mapping) else None
    return isinstance(group, Mapping) and group.get("name") is not None


def _fits(connection: Transport, shape: SessionShape, **settings: object) -> None:
    """UsageError unless ``connection`` can carry a session of ``shape`` and no connection
    setting is given beside it."""
    for name, value in settings.items():
        if value is not None:
            raise UsageError(f"{name} belongs to the transport given: set it there, not {name}=")
    dialect = "beta" if shape == "beta" else "ga"
    if connection.dialect != dialect:
        raise UsageError(
            f"the transport speaks the {connection.dialect!r} dialect and the session "
            f"{shape!r} needs {dialect!r}"
        )


def seconds(name: str, value: Any, *, positive: bool = False) -> float:
    """``value`` as seconds: a finite number, non-negative (or positive); else UsageError."""
    expected = "positive" if positive else "non-negative"
    low, above = (None, 0) if positive else (0, None)
    number = need_number(
        name, value, expected, low=low, above=above, finite=True, kind="a number of seconds"
    )
    return float(number)


def positive_limit(name: str, value: Any, *, seconds: bool = False, optional: bool = False) -> None:
    """UsageError unless ``value`` is a positive int (seconds: or float; optional: or None)."""
    if optional and value is None:
        return
    kinds = (int, float) if seconds else (int,)
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or not math.isfinite(value)
        or value <= 0
    ):
        allowed = " or None" if optional else ""
        raise UsageError(f"{name} must be positive{allowed}, got {value!r}")


def non_negative_int(name: str, value: Any) -> int:
    """``value`` as an int (any integer type but bool) that is not negative; else UsageError."""
    return need_int(name, value, "a non-negative int", low=0)


def _optional_str(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise UsageError(f"{name} must be a string, got {value!r}")
    return value
