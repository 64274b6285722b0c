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
    # dimension_key(unit): dimensions compared as tuples, in C.
    key: tuple[tuple[str, Any], ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", dimension_key(self.unit))


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
        self.used: set[str] = set()
        self._lines: list[int] | None = None
        # Post-order (operands before their operation): the steps evaluate() and dimension()
        # take in turn, each an (opcode, argument, node) triple.
        program = self._compile(self.tree.body, symbols)
        if program is None:
            self._refuse(symbols)
            raise AssertionError(self.expression)  # pragma: no cover - _refuse raised
        self.program = program

    def _compile(self, body: ast.expr, symbols: set[str]) -> list[tuple[int, Any, ast.expr]] | None:
        """The post-order program of a model made only of what the whitelist allows, in one
        walk that skips the operator and context tokens; None at the first thing it does not
        accept, and _refuse() then finds the error to report. A walk right operand first,
        reversed, is the post-order: children before their parent, left before right."""
        program: list[tuple[int, Any, ast.expr]] = []
        add, used = program.append, self.used
        stack = [body]
        push, pop = stack.append, stack.pop
        size = 0
        while stack:
            node = pop()
            kind = type(node)
            if kind is _Name:
                name = node.id  # type: ignore[attr-defined]
                if name not in symbols:
                    return None  # unknown, or a function's name without its call
                used.add(name)
                add((_NAME, name, node))
            elif kind is _BinOp:
                op = type(node.op)  # type: ignore[attr-defined]
                binary = _BINARY_STEPS.get(op)
                if binary is None:
                    return None
                push(node.left)  # type: ignore[attr-defined]
                push(node.right)  # type: ignore[attr-defined]
                add((*binary, node))
            elif kind is _Constant:
                value = node.value  # type: ignore[attr-defined]
                if type(value) is not int and type(value) is not float:
                    return None  # a bool, a string, a complex number, None, …
                add((_CONSTANT, float(value), node))
            elif kind is _UnaryOp:
                op = type(node.op)  # type: ignore[attr-defined]
                if op is not _USub and op is not _UAdd:
                    return None
                push(node.operand)  # type: ignore[attr-defined]
                add((_NEGATE if op is _USub else _PLUS, None, node))
            elif kind is _Call:
                func, args = node.func, node.args  # type: ignore[attr-defined]
                if type(func) is not _Name or func.id not in FUNCTIONS or len(args) != 1 \
                        or type(args[0]) is _Starred or node.keywords:  # type: ignore[attr-defined]
                    return None
                size += 1  # the function's name is an ast.expr too
                push(args[0])
                add((_CALL, func.id, node))
            else:
                return None
            size += 1
        if size > MAX_NODES:
            return None
        program.reverse()
        return program

    def _refuse(self, symbols: set[str]) -> None:
        """Raise the error for a model _compile did not accept: the size cap first, then the
        first refusal breadth first, so that it is the shallowest one."""
        nodes = list(ast.walk(self.tree))
        size = sum(isinstance(node, ast.expr) for node in nodes)
        if size > MAX_NODES:
            raise InvalidInput(msg("the model is too large: %(size)s operands and operations, "
                                   "at most %(limit)s", size=size, limit=MAX_NODES),
                               field=self.field)
        called = {id(node.func) for node in nodes if isinstance(node, ast.Call)}
        for node in nodes:
            self._check(node, symbols, called)

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

    def _check(self, node: ast.AST, symbols: set[str], called: set[int]) -> None:
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
            if node.id in FUNCTIONS and id(node) in called:
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
        for code, arg, _node in self.program:
            if code == _NAME:
                push(env[arg])
            elif code >= _ADD:
                right = pop()
                push(arg(pop(), right))
            elif code == _CONSTANT:
                push(arg)
            elif code == _NEGATE:
                push(-pop())
            elif code == _PLUS:
                push(+pop())
            else:
                push(functions[arg](pop()))
        return stack[0]

    def dimension(self, dims: Mapping[str, Dim], ureg: pint.UnitRegistry[Decimal]) -> Dim:
        """Work out the unit of the model's result, refusing dimension errors by name.

        :raises InvalidInput: adding incompatible units (naming both), adding two absolute
            temperatures, a unit in an exponent or a function argument that must be
            dimensionless.
        """
        one = _dim_op(None, _dimensionless(ureg), None)
        stack: list[Dim] = []
        push, pop = stack.append, stack.pop
        for code, arg, node in self.program:
            if code == _NAME:
                push(dims[arg])
            elif code >= _ADD:
                right = pop()
                left = pop()
                if code <= _SUB:
                    if left.unit is right.unit and not left.absolute and not right.absolute:
                        push(left)  # what _add gives, in the common case: units are interned
                    else:
                        push(self._add(node, left, right,  # type: ignore[arg-type]
                                       subtract=code == _SUB))
                    continue
                if left.absolute or right.absolute:
                    for side, dim in ((node.left, left), (node.right, right)):  # type: ignore[attr-defined]
                        if dim.absolute:
                            self._absolute_misuse(side, dim, node)
                if code != _POW:
                    push(_dim_op(arg, left.unit, right.unit))
                    continue
                # Power: the exponent must be a dimensionless number known before evaluation.
                if right.key:
                    raise InvalidInput(msg("the exponent %(token)r has the unit %(unit)s; "
                                           "exponents must be dimensionless",
                                           token=self._token(node.right),  # type: ignore[attr-defined]
                                           unit=_show(right)), field=self.field)
                if not left.key:
                    push(one)
                    continue
                exponent = _constant(node.right)  # type: ignore[attr-defined]
                if exponent is None:
                    raise InvalidInput(msg("%(base)r has a unit, so its exponent %(exponent)r "
                                           "must be a number",
                                           base=self._token(node.left),  # type: ignore[attr-defined]
                                           exponent=self._token(node.right)),  # type: ignore[attr-defined]
                                       field=self.field)
                push(_dim_op(operator.pow, left.unit, exponent))
            elif code == _CONSTANT:
                push(Dim(one.unit, text=repr(node.value)))  # type: ignore[attr-defined]
            elif code == _NEGATE or code == _PLUS:
                if code == _NEGATE and stack[-1].absolute:
                    self._absolute_misuse(node, stack[-1])
            else:
                argument = pop()
                if argument.absolute and arg != "abs":
                    self._absolute_misuse(node, argument)
                if arg == "abs":
                    push(argument)
                elif arg == "sqrt":
                    push(_dim_op(operator.pow, argument.unit, _HALF))
                elif argument.key:
                    raise InvalidInput(
                        msg("%(function)s() needs a dimensionless argument, but %(token)r is in "
                            "%(unit)s", function=arg,
                            token=self._token(node.args[0]),  # type: ignore[attr-defined]
                            unit=_show(argument)), field=self.field)
                else:
                    push(one)
        return stack[0]

    def _add(self, node: ast.BinOp, left: Dim, right: Dim, *, subtract: bool) -> Dim:
        if left.key != right.key:
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
# The opcodes of a compiled model's steps; those from _ADD on are binary operations.
_NAME, _CONSTANT, _NEGATE, _PLUS, _CALL, _ADD, _SUB, _MUL, _DIV, _POW = range(10)
_BINARY = {ast.Add: _ADD, ast.Sub: _SUB, ast.Mult: _MUL, ast.Div: _DIV, ast.Pow: _POW}
# What _compile looks up at every node, bound once (issue 14): each step's opcode and function,
# and the node types.
_BINARY_STEPS = {op: (code, _BINOPS[op]) for op, code in _BINARY.items()}
_Name, _BinOp, _Constant, _UnaryOp, _Call, _Starred = (
    ast.Name, ast.BinOp, ast.Constant, ast.UnaryOp, ast.Call, ast.Starred)
_USub, _UAdd = ast.USub, ast.UAdd


# pint works a unit's dimensionality and a product of units out afresh at every call (tens of
# µs each), and a budget's model combines the same few units over and over; the units of the
# one registry are immutable and hashable.
@functools.lru_cache(maxsize=8)
def _dimensionless(ureg: pint.UnitRegistry[Decimal]) -> PlainUnit:
    return interned(cast(PlainUnit, ureg.dimensionless))  # pint parses the name at every lookup


@functools.lru_cache(maxsize=4096)
def interned(unit: PlainUnit) -> PlainUnit:
    """The first unit seen equal to ``unit``. The caches here are keyed on units, and pint
    compares two equal units in Python (µs) where one unit is found by identity: with every
    unit interned, a model of V and mV inputs hits the caches without comparing units."""
    return unit


@functools.lru_cache(maxsize=4096)
def dimension_key(unit: PlainUnit) -> tuple[tuple[str, Any], ...]:
    """The dimension of a unit as a tuple of (dimension, exponent), () for a number: compared
    in C, where two pint dimensionalities compare in Python."""
    return tuple(sorted(unit.dimensionality.items()))


@functools.lru_cache(maxsize=4096)
def _dim_op(op: Callable[[Any, Any], Any] | None, left: PlainUnit, right: Any) -> Dim:
    """The Dim of ``op(left, right)`` (of ``left`` itself for no op): one shared, immutable
    object for each combination the budgets use."""
    return Dim(left if op is None else interned(cast(PlainUnit, op(left, right))))


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
