"""Quantity kinds (issue 9): what a value measures, the units it may be written and converted
in, its value domain, and values as labs write them ("<0.01", "未检出", "1.5×10³", "4-5" 级).

:mod:`lims.kinds.registry` is the table of kinds, :mod:`lims.kinds.values` the value syntax and
:mod:`lims.kinds.judge` what a characteristic declares and how a result is checked and judged
against it. Pure: imports neither Flask nor a Session; pint stays the one registry for
conversion (:mod:`lims.units`).
"""

from lims.kinds import values
from lims.kinds.registry import KINDS, Kind, KindUnit, get, infer, resolve

__all__ = ["KINDS", "Kind", "KindUnit", "get", "infer", "resolve", "values"]
