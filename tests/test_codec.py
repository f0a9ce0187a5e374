"""The cache's data format: every value it stores comes back as the same tree (srepr equal), and anything it
did not write is refused (DecodeError), never evaluated."""

from __future__ import annotations

import json

import pytest
import sympy as sp

from mlemap.catalogue import COIN_MAP_SD, LINEAR_REGRESSION, MODELS
from mlemap.derivations import codec, store
from mlemap.derivations.engine import SecondOrder, Statistic, derive
from tests.conftest import cache_in

n = sp.Symbol("n", positive=True, integer=True)  # assumptions in this order: srepr keeps it
t = sp.Symbol("t", real=True)
VALUES = [
    None,
    True,
    False,
    0,
    -7,
    2.5,
    "text",
    sp.Integer(10**30),
    sp.Rational(-3, 7),
    sp.Float("0.1", 30),
    sp.Float(2.5),
    -n / 4 - 1,
    sp.Mul(sp.Rational(5, 2), sp.Add(sp.sqrt(5), 13), evaluate=False),  # factor()'s unexpanded form
    sp.Dummy("u", positive=True),
    sp.pi,
    sp.E,
    sp.oo,
    -sp.oo,
    sp.zoo,
    sp.nan,
    sp.I,
    sp.true,
    sp.S.Half,
    sp.Interval.open(0, 1),
    sp.Interval(0, sp.oo, False, True),
    sp.Reals,
    sp.Naturals0,
    sp.FiniteSet(0, 1),
    sp.CRootOf(100 * t**3 - 150 * t**2 + 43 * t + 3, 1),
    sp.Sum(sp.IndexedBase("x")[sp.Idx("i")], (sp.Idx("i"), 1, n)),
    sp.log(sp.gamma(t + 1)),
    sp.Piecewise((t, t > 0), (0, True)),
    sp.Matrix([[t, 1], [n, -t]]),
    sp.ImmutableMatrix([[1, t]]),
    (1, (t, "a")),
    [t, [n]],
    {t: 1, "k": (2,)},
    Statistic(n, sp.Integer(1), "n"),
    Statistic(t, t**2, r"\sum_{i=1}^{n} t_{i}^{2}"),
    SecondOrder(sp.Matrix([[-n]]), (n,), "proved", ()),
]


@pytest.mark.parametrize("value", VALUES, ids=[type(v).__name__ + str(i) for i, v in enumerate(VALUES)])
def test_a_stored_value_comes_back_as_the_same_tree(value):
    back = codec.loads(codec.dumps(value))
    assert type(back) is type(value)
    assert back == value or (value != value)  # nan is not equal to itself
    assert sp.srepr(back) == sp.srepr(value)


def test_the_state_of_every_catalogue_derivation_round_trips():
    for model in MODELS.values():
        d = derive(model)
        d.score, d.hessian  # noqa: B018
        state = {k: v for k, v in vars(d).items() if k != "model"}
        back = codec.loads(codec.dumps(state))
        assert back.keys() == state.keys()
        for k, v in state.items():
            assert sp.srepr(back[k]) == sp.srepr(v), (model.name, k)


REFUSED = [
    '{"sympy": {"node": "os.system", "args": []}}',  # not a SymPy class
    '{"sympy": {"node": "Symbol", "args": [1]}}',  # a bare number as an argument
    '{"sympy": {"node": "Add", "args": "x"}}',  # args not a list
    '{"sympy": {"symbol": ["x", {"real": true}]}}',  # flags not pairs
    '{"sympy": {"symbol": ["x", [["real", 1]]]}}',  # a flag that is not a bool
    '{"sympy": {"symbol": ["x", [[1, true]]]}}',  # a flag name that is not a string
    '{"sympy": {"lambda": "x"}}',  # an unknown leaf
    '{"sympy": {"int": "1", "rat": "2", "x": 3}}',  # three keys
    '{"sympy": {"node": "Interval", "args": [{"int": "0"}]}}',  # a constructor that refuses its arguments
    '{"sympy": 5}',  # not a tree
    '{"dataclass": "Popen", "fields": {}}',  # not a registered dataclass
    '{"dataclass": "Statistic", "fields": {"symbol": null, "nonsense": 1}}',  # a field the class lacks
    '{"dataclass": "Statistic", "fields": []}',  # fields not a mapping
    '{"dict": [[1, 2, 3]]}',  # an entry that is not a pair
    '{"dict": [[[1], 2]]}',  # a list as a key
    '{"dict": "x"}',
    '{"tuple": "x"}',
    '{"matrix": [2, 2, [{"int": "1"}]]}',  # a shape that does not match
    '{"matrix": [1, 1]}',
    '{"unknown": 1}',
    '{"a": 1, "b": 2, "c": 3}',
    "not json",
    "[" * 100000,
]


@pytest.mark.parametrize("text", REFUSED)
def test_anything_the_codec_did_not_write_is_refused(text):
    with pytest.raises(codec.DecodeError):
        codec.loads(text.encode())


def test_values_the_codec_does_not_store_are_refused_when_writing():
    for value in (lambda: 1, object(), {1, 2}, b"bytes", sp.Function("f")):
        with pytest.raises(TypeError):
            codec.dumps(value)


def test_only_registered_dataclasses_are_rebuilt():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Unregistered:
        a: int

    with pytest.raises(TypeError):
        codec.dumps(Unregistered(1))
    assert codec.register(Unregistered) is Unregistered
    assert codec.loads(codec.dumps(Unregistered(1))) == Unregistered(1)
    del codec.DATACLASSES["Unregistered"]


def test_a_second_derivation_is_read_from_the_cache_and_equals_the_first(tmp_path, monkeypatch):
    from mlemap.derivations import engine

    cache_in(monkeypatch, tmp_path)
    for model in (COIN_MAP_SD, LINEAR_REGRESSION):
        first = derive(model)
        first_state = {k: sp.srepr(v) for k, v in vars(first).items() if k != "model"}
        with monkeypatch.context() as m:
            m.setattr(engine, "_derive", lambda model: pytest.fail("the cache was not used"))
            again = derive(model)
        assert {k: sp.srepr(v) for k, v in vars(again).items() if k != "model"} == first_state


def test_an_entry_is_json_behind_its_digest(tmp_path, monkeypatch):
    cache_in(monkeypatch, tmp_path)
    derive(COIN_MAP_SD)
    (path,) = tmp_path.glob("derivation-*.json")
    raw = path.read_bytes()
    assert raw.startswith(store.FORMAT)
    mac, _, payload = raw[len(store.FORMAT) :].partition(b"\n")
    assert len(mac) == 64 and json.loads(payload)["dict"][0][0] == "log_density"


def test_the_classes_the_codec_rebuilds_are_sympys_own_by_name():
    class Impostor(sp.Symbol):  # a subclass defined outside SymPy: never rebuilt from its name
        pass

    classes = codec._sympy_classes()
    assert classes["Symbol"] is sp.Symbol and classes["Add"] is sp.Add and classes["ComplexRootOf"] is sp.CRootOf
    assert all(
        isinstance(c, type) and issubclass(c, sp.Basic) and c.__module__.startswith("sympy.") for c in classes.values()
    )
    assert "Impostor" not in classes and len(classes) > 300


def test_a_sympy_string_atom_round_trips():
    value = sp.core.symbol.Str("a name")
    assert codec.loads(codec.dumps(value)) == value


@pytest.mark.parametrize(
    "tree",
    [
        {"sympy": {"node": "NoSuchClass", "args": []}},
        {"sympy": {"node": "Add", "args": [1]}},
        {"sympy": {"node": "Add", "args": {"a": 1}}},
        {"sympy": {"nodes": "Add", "args": []}},
        {"sympy": {"int": "1"}, "x": 1, "y": 2},
    ],
)
def test_malformed_trees_are_refused_as_decode_errors(tree):
    with pytest.raises(codec.DecodeError):
        codec.loads(json.dumps(tree).encode())


def test_a_value_it_cannot_store_is_named_in_the_error():
    with pytest.raises(TypeError, match="frozenset"):
        codec.dumps(frozenset({1}))
    with pytest.raises(TypeError, match=r"Function|UndefinedFunction|f"):
        codec.dumps(sp.Function("f")(sp.Symbol("x")))
