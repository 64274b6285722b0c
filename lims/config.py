"""Settings: ``LIMS_*`` environment variables over defaults, and the instance folder.

Every setting is documented in README.md ("Configuration"); a test keeps the two in step.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    instance_path: Path = Path("instance")
    database_url: str = ""  # default: SQLite in the instance folder
    # PostgreSQL: the owner's URL, used by `lims init` only; the application then connects as
    # a role that can read and write rows but cannot drop the guard triggers or alter tables.
    migration_database_url: str = ""
    secret_key: str = ""    # default: generated once into <instance>/secret_key
    lab_name: str = "省质量技术监督检验研究院"
    lab_name_en: str = "Provincial Institute of Quality Inspection and Metrology"
    lab_address: str = "1 Metrology Road, Hangzhou, Zhejiang, China"
    timezone: str = "Asia/Shanghai"
    # The language of the pages for a user who chose none and whose browser asks for neither
    # supported language: "zh_CN" (default) or "en".
    default_locale: str = "zh_CN"
    public_url: str = "http://127.0.0.1:5000"
    signing_pkcs12: str = ""      # default: <instance>/pki/signer.p12 (development PKI)
    signing_passphrase: str = ""  # default: read from <instance>/pki/signer.pass
    tsa_url: str = ""        # RFC 3161 TSA; default: the development TSA beside the signing key
    tsa_ca_file: str = ""    # PEM root of the LIMS_TSA_URL authority
    pades_lta: bool = False  # add a document time-stamp (PAdES B-LTA)
    # Each signatory's own key: a folder of <username>.p12 (passphrase: signing_passphrase);
    # default: the development CA issues them into <instance>/pki/signatories.
    signatory_keys: str = ""
    lab_seal: bool = True    # the lab key certifies each report before the signatory signs
    # The printed inspection seal (检验检测专用章): a PNG with transparency stamped over the
    # conclusion; "" draws a red vector seal with the lab's name. seal_edge adds a slice of the
    # seal across the right edge of every page of a multi-page report (骑缝章).
    seal_image: str = ""
    seal_edge: bool = False
    font_dir: str = ""            # default: $XDG_CACHE_HOME/lims/fonts
    # The lab's accreditation mark artwork (PNG or JPEG), printed instead of the drawn marks:
    # the CMA mark and the CNAS / ILAC-MRA combined mark as issued to the lab (CNAS-R01).
    cma_mark_image: str = ""
    cnas_mark_image: str = ""
    request_number_format: str = "WT{year}-{seq:06d}"
    sample_number_format: str = "YP{year}-{seq:06d}"
    report_number_format: str = "BG{year}-{seq:06d}"
    # Calibration and verification certificates and notices: one series of their own (JZ 校准).
    certificate_number_format: str = "JZ{year}-{seq:06d}"
    calibration_warning_days: int = 30
    calibration_interval_days: int = 365  # validity of an imported certificate that states none
    login_max_failures: int = 5               # failed logins per username within the window
    login_max_failures_per_address: int = 20  # per client address within the window (0: off)
    login_window_minutes: int = 15
    login_lockout_failures: int = 10          # wrong passwords in a row that lock an account
    session_idle_minutes: int = 30
    session_lifetime_hours: int = 12
    trusted_proxies: int = 0                  # proxies whose X-Forwarded-For is trusted
    serial_hosts: str = ""  # comma list of host:port a port may reach by rfc2217:// or socket://

    @property
    def port_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.serial_hosts.split(",") if h.strip())
    max_content_length: int = 1_048_576
    audit_verify_hour: int = 2
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``LIMS_<NAME>`` variables, then apply keyword overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = environ.get(f"LIMS_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ValueError(f"LIMS_{f.name.upper()} must be a whole number, "
                                     f"not {raw!r}") from None
            elif f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.name == "instance_path":
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        settings = cls(**values)
        return replace(settings, **overrides) if overrides else settings

    def resolved(self) -> Settings:
        """Fill the defaults that depend on the instance folder (reads the secret key file)."""
        inst = self.instance_path.resolve()
        db_url = self.database_url or f"sqlite:///{inst / 'lims.sqlite'}"
        key = self.secret_key or _read_secret(inst / "secret_key")
        p12 = self.signing_pkcs12 or str(inst / "pki" / "signer.p12")
        passphrase = self.signing_passphrase or _read_secret(inst / "pki" / "signer.pass")
        return replace(self, instance_path=inst, database_url=db_url, secret_key=key,
                       signing_pkcs12=p12, signing_passphrase=passphrase)

    @property
    def font_path(self) -> Path:
        from lims.reports.fonts import default_font_dir

        return Path(self.font_dir) if self.font_dir else default_font_dir()


SETTING_NAMES = [f"LIMS_{f.name.upper()}" for f in fields(Settings) if f.name != "extra"]


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def ensure_secret(path: Path) -> str:
    """Create a random secret file readable by the owner only, or return the existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()
