"""Measurement models: arithmetic expressions over named input quantities.

The expression is parsed with :mod:`ast` and checked against a whitelist before anything is
evaluated; it is never given to ``eval``. Allowed: numbers, input symbols, ``+ - * / **``,
unary signs, parentheses and the functions ``sqrt exp log log10 sin cos tan abs``. Anything
else (attribute access, other calls, subscripts, comprehensions, strings, keywords) is refused
with an error naming the offending token.

The same tree is walked three ways: for dimensions (pint units, with absolute temperatures
tracked separately), for the GUM propagation (GTC uncertain numbers) and for Monte Carlo
(numpy arrays). Each walk is a loop over the nodes in post-order, computed once at parsing,
with a stack of values: a sum of 2,000 inputs is a tree 2,000 levels deep, deeper than
Python's recursion limit, and a loop costs one step per node. Parsing is linear too: the
source text of a node is only cut out for an error message.

Caps against hostile input: MAX_LENGTH characters, MAX_NODES operands and operations (ten
times a 2,000-input sum), and whatever nesting Python's own parser refuses (200 parentheses,
~3,000 levels of operators), each refused as an InvalidInput naming the field.

Pure: imports neither Flask nor a Session.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, cast

import pint
from pint.facets.plain import PlainUnit

from lims.errors import InvalidInput, msg

FUNCTIONS = ("sqrt", "exp", "log", "log10", "sin", "cos", "tan", "abs")
_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
# A 200-input budget is ~1,500 characters and ~400 operands and operations; the caps leave
# room for 2,000 inputs with long names and keep the parse of the worst input to milliseconds.
MAX_LENGTH = 100_000
MAX_NODES = 20_000  # operands and operations (ast.expr nodes), not counting operator tokens


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
            raise InvalidInput(msg("the model expression is required"), field=field)
        if len(expression) > MAX_LENGTH:
            raise InvalidInput(msg("the model is longer than %(limit)s characters", limit=MAX_LENGTH),
                               field=field)
        self.expression = expression.strip()
        self.field = field
        try:
            self.tree = ast.parse(self.expression, mode="eval")
        except SyntaxError as exc:
            raise InvalidInput(msg("the model is not a valid expression: %(reason)s",
                                   reason=exc.msg), field=field) from None
        except (RecursionError, MemoryError):
            # CPython's parser gives up on deep nesting (a long chain of ** or unary signs)
            # with these rather than a SyntaxError.
            raise InvalidInput(msg("the model is nested too deeply"), field=field) from None
        nodes = list(ast.walk(self.tree))  # breadth first: the first refusal is the shallowest
        size = sum(isinstance(node, ast.expr) for node in nodes)
        if size > MAX_NODES:
            raise InvalidInput(msg("the model is too large: %(size)s operands and operations, "
                                   "at most %(limit)s", size=size, limit=MAX_NODES), field=field)
        self.used: set[str] = set()
        self._lines: list[int] | None = None
        for node in nodes:
            self._check(node, symbols)
        # Post-order (operands before their operation), built with an explicit stack: the
        # order in which evaluate() and dimension() consume the nodes.
        self.program: list[ast.expr] = []
        stack: list[tuple[ast.expr, bool]] = [(self.tree.body, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                self.program.append(node)
                continue
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_operands(node)))

    def _token(self, node: ast.AST) -> str:
        """The source text of a node, for an error message. What ast.get_source_segment gives,
        from a table of line offsets built once: get_source_segment splits the whole source at
        every call, which made a model's parse quadratic in its length."""
        if self._lines is None:
            starts = [0]
            for line in self.expression.splitlines(keepends=True):
                starts.append(starts[-1] + len(line))
            self._lines = starts
        try:
            # ast offsets are in UTF-8 bytes within the line.
            start = self._offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
            end = self._offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        except (AttributeError, TypeError, IndexError):
            return type(node).__name__
        return self.expression[start:end] or type(node).__name__

    def _offset(self, lineno: int, col: int) -> int:
        assert self._lines is not None  # noqa: S101 - built by _token
        start = self._lines[lineno - 1]
        line = self.expression[start:self._lines[lineno]] if lineno < len(self._lines) else ""
        return start + len(line.encode()[:col].decode(errors="ignore"))

    def _check(self, node: ast.AST, symbols: set[str]) -> None:
        if isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop):
            if (isinstance(node, ast.operator) and type(node) not in _BINOPS) or (
                    isinstance(node, ast.unaryop) and not isinstance(node, ast.UAdd | ast.USub)):
                raise InvalidInput(msg("operator %(operator)s is not allowed in the model",
                                       operator=type(node).__name__), field=self.field)
            return
        if isinstance(node, ast.BinOp | ast.UnaryOp):
            return
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise InvalidInput(msg("%(token)r is not allowed in the model: only numbers and "
                                       "input symbols", token=self._token(node)), field=self.field)
            return
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                return  # checked as the function of a Call
            if node.id not in symbols:
                raise InvalidInput(msg("unknown symbol %(symbol)r in the model; inputs are "
                                       "%(inputs)s", symbol=node.id,
                                       inputs=", ".join(sorted(symbols))), field=self.field)
            self.used.add(node.id)
            return
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise InvalidInput(msg("call %(call)r is not allowed; functions are "
                                       "%(functions)s", call=self._token(node.func),
                                       functions=", ".join(FUNCTIONS)), field=self.field)
            if node.keywords or len(node.args) != 1 or any(
                    isinstance(a, ast.Starred) for a in node.args):
                raise InvalidInput(msg("%(function)s() takes exactly one argument",
                                       function=node.func.id), field=self.field)
            return
        raise InvalidInput(msg("%(token)r (%(node)s) is not allowed in the model",
                               token=self._token(node), node=type(node).__name__),
                           field=self.field)

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, env: Mapping[str, Any], functions: Mapping[str, Callable[[Any], Any]]
                 ) -> Any:
        """Evaluate with the given values (floats, GTC ureals or numpy arrays)."""

        stack: list[Any] = []
        push, pop = stack.append, stack.pop
        for node in self.program:
            if isinstance(node, ast.Name):
                push(env[node.id])
            elif isinstance(node, ast.BinOp):
                right = pop()
                push(_BINOPS[type(node.op)](pop(), right))
            elif isinstance(node, ast.Constant):
                push(float(node.value))  # type: ignore[arg-type]  # _check: int or float
            elif isinstance(node, ast.UnaryOp):
                if isinstance(node.op, ast.USub):
                    push(-pop())
                else:
                    push(+pop())
            else:
                push(functions[node.func.id](pop()))  # type: ignore[attr-defined]
        return stack[0]

    def dimension(self, dims: Mapping[str, Dim], ureg: pint.UnitRegistry[Decimal]) -> Dim:
        """Work out the unit of the model's result, refusing dimension errors by name.

        :raises InvalidInput: adding incompatible units (naming both), adding two absolute
            temperatures, a unit in an exponent or a function argument that must be
            dimensionless.
        """
        one = _dimensionless(ureg)

        def step(node: ast.expr, stack: list[Dim]) -> Dim:
            if isinstance(node, ast.Constant):
                return Dim(one, text=repr(node.value))
            if isinstance(node, ast.Name):
                return dims[node.id]
            if isinstance(node, ast.UnaryOp):
                inner = stack.pop()
                if inner.absolute and isinstance(node.op, ast.USub):
                    self._absolute_misuse(node, inner)
                return inner
            if isinstance(node, ast.Call):
                name = node.func.id  # type: ignore[attr-defined]
                arg = stack.pop()
                if arg.absolute and name != "abs":
                    self._absolute_misuse(node, arg)
                if name == "abs":
                    return arg
                if name == "sqrt":
                    return Dim(_unit_op(operator.pow, arg.unit, _HALF))
                if _dimensionality(arg.unit) != _dimensionality(one):
                    raise InvalidInput(
                        msg("%(function)s() needs a dimensionless argument, but %(token)r is in "
                            "%(unit)s", function=name, token=self._token(node.args[0]),
                            unit=_show(arg)), field=self.field)
                return Dim(one)
            node = cast(ast.BinOp, node)
            right = stack.pop()
            left = stack.pop()
            op = type(node.op)
            if op in (ast.Add, ast.Sub):
                return self._add(node, left, right, subtract=op is ast.Sub)
            for side, dim in ((node.left, left), (node.right, right)):
                if dim.absolute:
                    self._absolute_misuse(side, dim, node)
            if op is ast.Mult:
                return Dim(_unit_op(operator.mul, left.unit, right.unit))
            if op is ast.Div:
                return Dim(_unit_op(operator.truediv, left.unit, right.unit))
            # Power: the exponent must be a dimensionless number known before evaluation.
            if _dimensionality(right.unit) != _dimensionality(one):
                raise InvalidInput(msg("the exponent %(token)r has the unit %(unit)s; exponents "
                                       "must be dimensionless", token=self._token(node.right),
                                       unit=_show(right)), field=self.field)
            if _dimensionality(left.unit) == _dimensionality(one):
                return Dim(one)
            exponent = _constant(node.right)
            if exponent is None:
                raise InvalidInput(msg("%(base)r has a unit, so its exponent %(exponent)r must "
                                       "be a number", base=self._token(node.left),
                                       exponent=self._token(node.right)), field=self.field)
            return Dim(_unit_op(operator.pow, left.unit, exponent))

        dims_stack: list[Dim] = []
        for node in self.program:
            dims_stack.append(step(node, dims_stack))
        return dims_stack[0]

    def _add(self, node: ast.BinOp, left: Dim, right: Dim, *, subtract: bool) -> Dim:
        if _dimensionality(left.unit) != _dimensionality(right.unit):
            a, b = self._token(node.left), self._token(node.right)
            units = {"left": a, "left_unit": _show(left), "right": b, "right_unit": _show(right)}
            raise InvalidInput(
                msg("cannot subtract %(left)r in %(left_unit)s and %(right)r in %(right_unit)s: "
                    "the units are not compatible", **units) if subtract else
                msg("cannot add %(left)r in %(left_unit)s and %(right)r in %(right_unit)s: "
                    "the units are not compatible", **units),
                field=self.field, left=a, right=b)
        if left.absolute and right.absolute:
            if subtract:
                return Dim(left.unit)  # the difference of two temperatures is an interval
            a, b = self._token(node.left), self._token(node.right)
            raise InvalidInput(msg("cannot add two absolute temperatures %(left)r and %(right)r; "
                                   "write a temperature difference or correction in K or "
                                   "delta_degC", left=a, right=b), field=self.field)
        if right.absolute:
            if subtract:
                self._absolute_misuse(node.right, right, node)
            return right
        return left

    def _absolute_misuse(self, node: ast.AST, dim: Dim, parent: ast.AST | None = None) -> None:
        where = self._token(parent) if parent is not None else self._token(node)
        raise InvalidInput(
            msg("%(token)r is an absolute temperature (%(unit)s) used in %(where)r; only a "
                "difference of temperatures (K, delta_degC) can be scaled, negated or passed to "
                "a function", token=self._token(node), unit=dim.text or "°C", where=where),
            field=self.field)


_HALF = Decimal("0.5")


# pint works a unit's dimensionality and a product of units out afresh at every call (tens of
# µs each), and a budget's model combines the same few units over and over; the units of the
# one registry are immutable and hashable.
@functools.lru_cache(maxsize=8)
def _dimensionless(ureg: pint.UnitRegistry[Decimal]) -> PlainUnit:
    return cast(PlainUnit, ureg.dimensionless)  # pint parses the name at every lookup


@functools.lru_cache(maxsize=4096)
def _dimensionality(unit: PlainUnit) -> Any:
    return unit.dimensionality


@functools.lru_cache(maxsize=4096)
def _unit_op(op: Callable[[Any, Any], Any], left: PlainUnit, right: Any) -> PlainUnit:
    return cast(PlainUnit, op(left, right))


def _operands(node: ast.expr) -> list[ast.expr]:
    """The operands of a node that _check accepted (a function's name is not one)."""
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return [node.args[0]]
    return []


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
