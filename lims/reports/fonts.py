"""The embeddable CJK fonts used on reports and certificates.

reportlab embeds TrueType (glyf) fonts only and renders a variable font in its default (Thin)
master, so static Regular and Bold instances of Noto Sans SC (OFL-1.1, shipped as a variable
TrueType in the ``justmytype-intl-cjk`` wheel) are made once with fontTools and cached.
``--update-name-table`` semantics matter: two faces with the same internal name are merged
silently by reportlab and bold stops working.
"""

from __future__ import annotations

import os
import threading
from importlib.resources import files
from pathlib import Path

FAMILY = "NotoSansSC"
WEIGHTS = {"Regular": 400, "Bold": 700}

# Characters a certificate cannot do without; checked against the instanced font so that a
# font which silently lacks one (as WenQuanYi lacks U+2212) is refused at start-up.
REQUIRED_CHARS = "−±×≤≥°℃µμΩΔ‰²³√检验报告校准证书合格第页共以下空白"

_lock = threading.Lock()


def default_font_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lims" / "fonts"


def variable_font_path() -> Path:
    root = files("justmytype_intl_cjk") / "fonts" / "ofl" / "notosanssc"
    return Path(str(root / "NotoSansSC[wght].ttf"))


def font_paths(font_dir: Path) -> dict[str, Path]:
    return {style: font_dir / f"{FAMILY}-{style}.ttf" for style in WEIGHTS}


def ensure_fonts(font_dir: Path | None = None) -> dict[str, Path]:
    """Make the static font instances if they are missing and return their paths."""
    font_dir = font_dir or default_font_dir()
    paths = font_paths(font_dir)
    with _lock:
        missing = [style for style, path in paths.items() if not path.exists()]
        if not missing:
            return paths
        from fontTools.ttLib import TTFont
        from fontTools.varLib import instancer

        font_dir.mkdir(parents=True, exist_ok=True)
        for style in missing:
            var = TTFont(str(variable_font_path()))
            static = instancer.instantiateVariableFont(
                var, {"wght": WEIGHTS[style]}, updateFontNames=True
            )
            _set_family_names(static, style)
            tmp = paths[style].with_suffix(f".tmp{os.getpid()}")
            static.save(str(tmp))
            os.replace(tmp, paths[style])
    return paths


def _set_family_names(font: object, style: str) -> None:
    # Give each instance its own PostScript and full name (see module docstring).
    name_table = font["name"]  # type: ignore[index]
    for record in name_table.names:
        if record.nameID in (4,):
            record.string = f"Noto Sans SC {style}"
        elif record.nameID == 6:
            record.string = f"{FAMILY}-{style}"
