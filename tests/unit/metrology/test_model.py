"""The model's one-pass compiler (issue 14) against Python's own evaluation and against the
breadth-first checks that name refusals: whatever the compiler accepts, the checks accept, and
whatever it does not, they refuse with the message they always gave."""

from __future__ import annotations

import math

import pytest

from lims.errors import InvalidInput
from lims.metrology.model import Model
from lims.metrology.uncertainty import parse_budget

SYMBOLS = {"x", "y", "z"}
ENV = {"x": 1.7, "y": 0.3, "z": 2.9}
FUNCTIONS = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log10": math.log10,
             "sin": math.sin, "cos": math.cos, "tan": math.tan, "abs": abs}

ACCEPTED = [
    "x", "-x", "+x", "--x", "x + y", "x - y - z", "x * y / z", "x ** 2", "x ** -1", "x ** y ** z",
    "-x ** 2", "(x + y) * (x - y)", "x / (y * z)", "2", "1.5e3 * x", "1_000 * y", "sqrt(x)",
    "abs(-x) * 2.5", "log10(x / y) + log(z)", "sin(x) + cos(y) + tan(z) + exp(x)",
    "sqrt(sqrt(x) + abs(y - z))", "(sqrt)(x)", "x + y * z ** 2 / (1 + x) - -y",
]


@pytest.mark.parametrize("expression", ACCEPTED)
def test_the_compiled_program_evaluates_as_python_does(expression):
    model = Model(expression, SYMBOLS)
    expected = eval(expression, {"__builtins__": {}, **FUNCTIONS}, dict(ENV))  # noqa: S307 - the test's own expressions
    assert model.evaluate(ENV, FUNCTIONS) == pytest.approx(expected, rel=1e-15)
    model._refuse(SYMBOLS)  # the breadth-first checks accept it too
    assert model.used == {s for s in SYMBOLS if s in expression}


@pytest.mark.parametrize(("expression", "words"), [
    ("q + x", "unknown symbol 'q'"),
    ("sqrt + x", "unknown symbol 'sqrt'"),   # a function without its call is no input
    ("x + log", "unknown symbol 'log'"),
    ("x // y", "FloorDiv"), ("x % y", "Mod"), ("x @ y", "MatMult"), ("~x", "Invert"),
    ("not x", "Not"), ("x < y", "'x < y'"), ("x and y", "'x and y'"), ("'x'", "'x'"),
    ("True * x", "'True'"), ("None", "'None'"), ("1j * x", "'1j'"), ("x.real", "'x.real'"),
    ("sqrt(x, y)", "one argument"), ("sqrt()", "one argument"), ("sqrt(*x)", "one argument"),
    ("sqrt(x=x)", "one argument"), ("foo(x)", "'foo'"), ("x.sqrt(y)", "'x.sqrt'"),
    ("sqrt(x)(y)", "'sqrt(x)'"), ("x[0]", "'x[0]'"), ("(x := 1)", "'x := 1'"),
    ("lambda: x", "'lambda: x'"), ("[x]", "'[x]'"), ("x if y else z", "'x if y else z'"),
    # The shallowest refusal is the one named, breadth first, whatever the compiler met first.
    ("x + (q * foo(y))", "unknown symbol 'q'"), ("(y // x) + q", "unknown symbol 'q'"),
    ("x ** (y // z) + foo(x)", "'foo'"),
])
def test_refusals_name_the_shallowest_offender(expression, words):
    with pytest.raises(InvalidInput) as exc:
        Model(expression, SYMBOLS)
    assert words in exc.value.message and exc.value.field == "model"


def test_a_function_name_as_an_operand_is_refused_not_a_crash():
    budget = {"measurand": {"symbol": "y", "unit": "V"}, "model": "sqrt + x",
              "inputs": [{"symbol": "x", "value": "1", "unit": "V"}]}
    with pytest.raises(InvalidInput) as exc:
        parse_budget(budget)
    assert exc.value.field == "model" and "'sqrt'" in exc.value.message


def _budget(model: str, symbols: tuple[str, ...] = ("x", "y")) -> dict[str, object]:
    return {"measurand": {"symbol": "q", "unit": "V"}, "model": model,
            "inputs": [{"symbol": s, "value": "1", "unit": "V"} for s in symbols]}


def test_a_budget_model_is_parsed_once_per_expression_and_symbols():
    """A procedure's budget is re-evaluated with new values: its model is not parsed again,
    and a cached model never answers for other symbols or a model once refused."""
    first, again = parse_budget(_budget("x + y")), parse_budget(_budget(" x + y "))
    assert first.model is again.model
    # The same text over other inputs is another model: here one that refuses its text.
    with pytest.raises(InvalidInput) as exc:
        parse_budget(_budget("x + y", ("x", "z")))
    assert "unknown symbol 'y'" in exc.value.message
    # A refusal is not remembered as a model: the same bad text is refused every time.
    for _ in range(2):
        with pytest.raises(InvalidInput):
            parse_budget(_budget("x // y"))
    long_model = " + ".join(["x", "y"] * 1_200)  # beyond the cached length: parsed each time
    assert parse_budget(_budget(long_model)).model is not parse_budget(_budget(long_model)).model
