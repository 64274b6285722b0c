"""The message catalogs outside Flask: the ``lims`` command speaks the instance's language.

Pages choose a language per request (:mod:`lims.web.i18n`); the command line has no browser
to ask, so it follows ``LIMS_DEFAULT_LOCALE`` (zh_CN unless set; ``LIMS_DEFAULT_LOCALE=en lims
…`` for one command). Same catalog, same message ids as the pages.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


@cache
def catalog(locale: str) -> NullTranslations:
    """The compiled catalog of a locale (English is the source language: no catalog)."""
    if not locale.lower().startswith("zh"):
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), ["zh"])


def _locale() -> str:
    return os.environ.get("LIMS_DEFAULT_LOCALE") or "zh_CN"


def tr(template: str, **params: object) -> str:
    """``template`` in the command line's language, with ``params`` filled in."""
    text = catalog(_locale()).gettext(template)
    try:
        return text % params if params else text
    except (KeyError, ValueError, TypeError):  # a broken translation never hides the message
        return template % params if params else template


def label(value: object) -> str:
    """A stored value (status, kind, role …) in the command line's language: the pages' label
    (lims.web.i18n.LABELS) looked up in the same catalog; unknown values are shown as stored."""
    from lims.web.i18n import LABELS

    text = str(value)
    found = LABELS.get(text)
    return tr(found._args[0]) if found is not None else text  # the label's msgid


def localized(message: object) -> str:
    """A service's message (:func:`lims.errors.msg`) in the command line's language."""
    from lims.errors import Message, Named

    if isinstance(message, Named):
        return message.zh if _locale().lower().startswith("zh") else str(message)
    if isinstance(message, Message):
        # A message carried inside another ("standard %(message)s") is translated too.
        from lims.errors import STATE_PARAMS, Choices

        return tr(message.template, **{
            k: localized(v) if isinstance(v, Message)
            else tr(", ").join(label(i) for i in v.items) if isinstance(v, Choices)
            else tr(v) if k in STATE_PARAMS and isinstance(v, str) and v else v
            for k, v in message.params.items()})
    return str(message)
