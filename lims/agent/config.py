"""The agent's TOML configuration, validated whole before any port is opened.

Every error names the key it is about (``instruments[1].mode``), so a technician editing the
file on a bench PC can find the line.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from lims.catalogs import tr

MODES = ("poll", "stream")
MAX_BATCH = 500  # the server takes up to 1000; 500 keeps a request well under its 4 MiB limit
TOP_KEYS = {"server", "token", "token_file", "spool", "spool_max", "batch_size"}
INSTRUMENT_KEYS = {"asset", "driver", "port", "mode", "interval", "settings", "baudrate"}


class ConfigError(Exception):
    """The configuration file is unusable; ``key`` names the offending entry."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclasses.dataclass(frozen=True)
class Instrument:
    asset: str
    driver: str
    port: str
    mode: str = "poll"
    interval: float = 1.0
    settings: dict[str, str] = dataclasses.field(default_factory=dict)
    baudrate: int | None = None


@dataclasses.dataclass(frozen=True)
class Config:
    server: str
    token: str
    spool: Path
    instruments: tuple[Instrument, ...]
    spool_max: int = 1_000_000
    batch_size: int = MAX_BATCH


def _opt(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(where + key, tr("must be a non-empty text"))
    return value.strip()


def _req(data: dict[str, Any], key: str, where: str) -> str:
    value = _opt(data, key, where)
    if value is None:
        raise ConfigError(where + key, tr("is missing"))
    return value


def _number(data: dict[str, Any], key: str, where: str, default: float, *, low: float,
            integer: bool = False, high: float | None = None) -> Any:
    value: Any = data.get(key, default)
    number = None
    if isinstance(value, int | float) and not isinstance(value, bool) and \
            (isinstance(value, int) or not integer):
        number = float(value)
    if number is None or number < low or (high is not None and number > high):
        raise ConfigError(where + key, tr("must be a number from %(low)s to %(high)s", low=low,
                                          high=high if high is not None else "∞"))
    return value


def _unknown(data: dict[str, Any], known: set[str], where: str) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(where + key, tr("unknown key (known: %(known)s)",
                                              known=", ".join(sorted(known))))


def parse(data: dict[str, Any], base: Path) -> Config:
    """Validate a parsed TOML document; relative paths are relative to ``base``."""
    from drivers import DRIVERS
    from drivers.errors import DriverError

    data = {k: v for k, v in data.items() if k != "instruments"} | \
        {"instruments": data.get("instruments")}
    _unknown({k: v for k, v in data.items() if k != "instruments"}, TOP_KEYS, "")
    server = _req(data, "server", "")
    if not server.startswith(("http://", "https://")):
        raise ConfigError("server", tr("must start with http:// or https://"))
    token = _opt(data, "token", "")
    token_file = _opt(data, "token_file", "")
    if (token is None) == (token_file is None):
        raise ConfigError("token", tr("give exactly one of token and token_file"))
    if token_file is not None:
        path = base / token_file
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError("token_file", tr("cannot read %(path)s: %(reason)s", path=path,
                                               reason=exc.strerror)) from None
        if not token:
            raise ConfigError("token_file", tr("%(path)s is empty", path=path))
    spool = _req(data, "spool", "")
    if token is None:  # unreachable: exactly one of token, token_file was given
        raise ConfigError("token", tr("is missing"))
    spool_max = _number(data, "spool_max", "", 1_000_000, low=1, integer=True)
    batch_size = _number(data, "batch_size", "", MAX_BATCH, low=1, high=MAX_BATCH, integer=True)
    rows = data["instruments"]
    if not isinstance(rows, list) or not rows:
        raise ConfigError("instruments", tr("give at least one [[instruments]] table"))
    instruments: list[Instrument] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        where = f"instruments[{i}]."
        if not isinstance(row, dict):
            raise ConfigError(f"instruments[{i}]", tr("must be a table"))
        _unknown(row, INSTRUMENT_KEYS, where)
        asset, driver, port = (_req(row, k, where) for k in ("asset", "driver", "port"))
        if asset in seen:
            raise ConfigError(where + "asset", tr("%(asset)s is listed twice", asset=asset))
        seen.add(asset)
        if driver not in DRIVERS:
            raise ConfigError(where + "driver", tr("unknown driver %(name)s; known: %(known)s",
                                                   name=driver, known=", ".join(sorted(DRIVERS))))
        mode = row.get("mode", "poll")
        if mode not in MODES:
            raise ConfigError(where + "mode", tr("choose poll or stream"))
        interval = float(_number(row, "interval", where, 1.0, low=0.001, high=86400))
        settings = row.get("settings", {})
        if not isinstance(settings, dict) or \
                not all(isinstance(v, str | int | float) for v in settings.values()):
            raise ConfigError(where + "settings", tr("must be a table of KEY = \"VALUE\""))
        settings = {str(k): str(v) for k, v in settings.items()}
        try:
            DRIVERS[driver].check_options(settings)
        except DriverError as exc:
            raise ConfigError(where + "settings", str(exc)) from None
        baudrate = row.get("baudrate")
        if baudrate is not None:
            baudrate = _number(row, "baudrate", where, 9600, low=50, high=4_000_000, integer=True)
        instruments.append(Instrument(asset=asset, driver=driver, port=port, mode=mode,
                                      interval=interval, settings=settings, baudrate=baudrate))
    return Config(server=server.rstrip("/"), token=token, spool=base / spool,
                  instruments=tuple(instruments), spool_max=spool_max, batch_size=batch_size)


def load(path: str | Path) -> Config:
    """Read and validate the configuration file at ``path``.

    :raises ConfigError: unreadable, not TOML, or a key is wrong (named in the error).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(str(path), tr("cannot read it: %(reason)s",
                                        reason=exc.strerror)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), tr("not valid TOML: %(reason)s", reason=exc)) from None
    return parse(data, path.resolve().parent)
