"""Search keys for names: a customer is found by the pinyin initials of its name as well as by
the name (湖北长江电缆有限公司 → "hbcjdlyxgs", so "cjdl" finds it), as Chinese staff search."""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def initials(name: str) -> str:
    """The pinyin initial of each Chinese character, other text kept as it is; lower case, with
    spaces and punctuation dropped ("ACME 仪器 Co." → "acmeyqco")."""
    parts = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default")
    return _NON_WORD.sub("", "".join(parts)).lower()[:200]
