"""Measurement models: arithmetic expressions over named input quantities.

The expression is parsed with :mod:`ast` and checked against a whitelist before anything is
evaluated; it is never given to ``eval``. Allowed: numbers, input symbols, ``+ - * / **``,
unary signs, parentheses and the functions ``sqrt exp log log10 sin cos tan abs``. Anything
else (attribute access, other calls, subscripts, comprehensions, strings, keywords) is refused
with an error naming the offending token.

The same tree is walked three ways: for dimensions (pint units, with absolute temperatures
tracked separately), for the GUM propagation (GTC uncertain numbers) and for Monte Carlo
(numpy arrays). Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import ast
import dataclasses
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, cast

import pint
from pint.facets.plain import PlainUnit

from lims.errors import InvalidInput

FUNCTIONS = ("sqrt", "exp", "log", "log10", "sin", "cos", "tan", "abs")
_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
MAX_LENGTH = 2000
MAX_NODES = 500


@dataclasses.dataclass(frozen=True)
class Dim:
    """The unit of a (sub)expression in SI base units; ``absolute`` marks a temperature on an
    offset scale (°C, °F), which may only be shifted by a difference or subtracted."""

    unit: PlainUnit  # what pint's operators are typed to return
    absolute: bool = False
    text: str = ""


class Model:
    """A parsed, whitelisted measurement model."""

    def __init__(self, expression: object, symbols: set[str], *, field: str = "model") -> None:
        if not isinstance(expression, str) or not expression.strip():
            raise InvalidInput("the model expression is required", field=field)
        if len(expression) > MAX_LENGTH:
            raise InvalidInput(f"the model is longer than {MAX_LENGTH} characters", field=field)
        self.expression = expression.strip()
        self.field = field
        try:
            self.tree = ast.parse(self.expression, mode="eval")
        except SyntaxError as exc:
            raise InvalidInput(f"the model is not a valid expression: {exc.msg}",
                               field=field) from None
        nodes = list(ast.walk(self.tree))
        if len(nodes) > MAX_NODES:
            raise InvalidInput("the model is too large", field=field)
        self.used: set[str] = set()
        for node in nodes:
            self._check(node, symbols)

    def _token(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.expression, node) or type(node).__name__

    def _check(self, node: ast.AST, symbols: set[str]) -> None:
        if isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop):
            if isinstance(node, ast.operator) and type(node) not in _BINOPS:
                raise InvalidInput(f"operator {type(node).__name__} is not allowed in the model",
                                   field=self.field)
            if isinstance(node, ast.unaryop) and not isinstance(node, ast.UAdd | ast.USub):
                raise InvalidInput(f"operator {type(node).__name__} is not allowed in the model",
                                   field=self.field)
            return
        if isinstance(node, ast.BinOp | ast.UnaryOp):
            return
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise InvalidInput(f"{self._token(node)!r} is not allowed in the model: only "
                                   "numbers and input symbols", field=self.field)
            return
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                return  # checked as the function of a Call
            if node.id not in symbols:
                raise InvalidInput(f"unknown symbol {node.id!r} in the model; inputs are "
                                   f"{', '.join(sorted(symbols))}", field=self.field)
            self.used.add(node.id)
            return
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise InvalidInput(f"call {self._token(node.func)!r} is not allowed; functions "
                                   f"are {', '.join(FUNCTIONS)}", field=self.field)
            if node.keywords or len(node.args) != 1 or any(
                    isinstance(a, ast.Starred) for a in node.args):
                raise InvalidInput(f"{node.func.id}() takes exactly one argument",
                                   field=self.field)
            return
        raise InvalidInput(f"{self._token(node)!r} ({type(node).__name__}) is not allowed in "
                           "the model", field=self.field)

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, env: Mapping[str, Any], functions: Mapping[str, Callable[[Any], Any]]
                 ) -> Any:
        """Evaluate with the given values (floats, GTC ureals or numpy arrays)."""

        def walk(node: ast.AST) -> Any:
            if isinstance(node, ast.Expression):
                return walk(node.body)
            if isinstance(node, ast.BinOp):
                return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
            if isinstance(node, ast.UnaryOp):
                value = walk(node.operand)
                return -value if isinstance(node.op, ast.USub) else +value
            if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
                return float(node.value)
            if isinstance(node, ast.Name):
                return env[node.id]
            if isinstance(node, ast.Call):
                return functions[node.func.id](walk(node.args[0]))  # type: ignore[attr-defined]
            raise AssertionError(type(node))  # pragma: no cover - refused by _check

        return walk(self.tree)

    def dimension(self, dims: Mapping[str, Dim], ureg: pint.UnitRegistry[Decimal]) -> Dim:
        """Work out the unit of the model's result, refusing dimension errors by name.

        :raises InvalidInput: adding incompatible units (naming both), adding two absolute
            temperatures, a unit in an exponent or a function argument that must be
            dimensionless.
        """
        one = ureg.dimensionless

        def walk(node: ast.AST) -> Dim:
            if isinstance(node, ast.Expression):
                return walk(node.body)
            if isinstance(node, ast.Constant):
                return Dim(one, text=repr(node.value))
            if isinstance(node, ast.Name):
                return dims[node.id]
            if isinstance(node, ast.UnaryOp):
                inner = walk(node.operand)
                if inner.absolute and isinstance(node.op, ast.USub):
                    self._absolute_misuse(node, inner)
                return inner
            if isinstance(node, ast.Call):
                name = node.func.id  # type: ignore[attr-defined]
                arg = walk(node.args[0])
                if arg.absolute and name != "abs":
                    self._absolute_misuse(node, arg)
                if name == "abs":
                    return arg
                if name == "sqrt":
                    return Dim(arg.unit ** Decimal("0.5"))
                if arg.unit.dimensionality != one.dimensionality:
                    raise InvalidInput(
                        f"{name}() needs a dimensionless argument, but "
                        f"{self._token(node.args[0])!r} is in {_show(arg)}", field=self.field)
                return Dim(one)
            node = cast(ast.BinOp, node)
            left, right = walk(node.left), walk(node.right)
            op = type(node.op)
            if op in (ast.Add, ast.Sub):
                return self._add(node, left, right, subtract=op is ast.Sub)
            for side, dim in ((node.left, left), (node.right, right)):
                if dim.absolute:
                    self._absolute_misuse(side, dim, node)
            if op is ast.Mult:
                return Dim(left.unit * right.unit)
            if op is ast.Div:
                return Dim(left.unit / right.unit)
            # Power: the exponent must be a dimensionless number known before evaluation.
            if right.unit.dimensionality != one.dimensionality:
                raise InvalidInput(f"the exponent {self._token(node.right)!r} has the unit "
                                   f"{_show(right)}; exponents must be dimensionless",
                                   field=self.field)
            if left.unit.dimensionality == one.dimensionality:
                return Dim(one)
            exponent = _constant(node.right)
            if exponent is None:
                raise InvalidInput(f"{self._token(node.left)!r} has a unit, so its exponent "
                                   f"{self._token(node.right)!r} must be a number",
                                   field=self.field)
            return Dim(left.unit ** exponent)

        return walk(self.tree)

    def _add(self, node: ast.BinOp, left: Dim, right: Dim, *, subtract: bool) -> Dim:
        a, b = self._token(node.left), self._token(node.right)
        if left.unit.dimensionality != right.unit.dimensionality:
            verb = "subtract" if subtract else "add"
            raise InvalidInput(f"cannot {verb} {a!r} in {_show(left)} and {b!r} in "
                               f"{_show(right)}: the units are not compatible",
                               field=self.field, left=a, right=b)
        if left.absolute and right.absolute:
            if subtract:
                return Dim(left.unit)  # the difference of two temperatures is an interval
            raise InvalidInput(f"cannot add two absolute temperatures {a!r} and {b!r}; write a "
                               "temperature difference or correction in K or delta_degC",
                               field=self.field)
        if right.absolute:
            if subtract:
                self._absolute_misuse(node.right, right, node)
            return right
        return left

    def _absolute_misuse(self, node: ast.AST, dim: Dim, parent: ast.AST | None = None) -> None:
        where = self._token(parent) if parent is not None else self._token(node)
        raise InvalidInput(
            f"{self._token(node)!r} is an absolute temperature ({dim.text or '°C'}) used in "
            f"{where!r}; only a difference of temperatures (K, delta_degC) can be scaled, "
            "negated or passed to a function", field=self.field)


def _constant(node: ast.AST) -> Decimal | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return Decimal(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        value = _constant(node.operand)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    return None


def _show(dim: Dim) -> str:
    text = dim.text or format(dim.unit, "~P") or "1"
    return f"{text} {dim.unit.dimensionality}" if str(dim.unit.dimensionality) != "dimensionless" \
        else f"{text} (dimensionless)"
