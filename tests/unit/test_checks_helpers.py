"""grader.checks helpers: expect_close, expect_tensor, fmt and render_example."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_close, expect_tensor, fmt, render_example
from grader.sandbox.wire import WireTensor

NAN = float("nan")


# ----------------------------------------------------------------------------- expect_close
@pytest.mark.parametrize("got, expected", [
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])),
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-6])),
    (WireTensor(torch.tensor([0.5])), torch.tensor([0.5], dtype=torch.float64)),
    ([1.0, 2.0], torch.tensor([1.0, 2.0])),
    (3, 3.0),
    (torch.tensor(1.0, requires_grad=True) * 2, torch.tensor(2.0)),
], ids=["equal", "within-tolerance", "wire-tensor", "list", "numbers", "graph-attached"])
def test_expect_close_accepts_matching_values(got, expected):
    expect_close("w", got, expected)


def test_expect_close_reports_a_shape_mismatch_with_both_shapes():
    with pytest.raises(CheckFailed) as info:
        expect_close("w", torch.zeros(2, 1), torch.zeros(2), hint="squeeze it")
    failure = info.value
    assert failure.message == "w has shape (2, 1), expected (2,)."
    assert failure.expected == "tensor of shape (2,): [0, 0]"
    assert failure.got == "tensor of shape (2, 1): [0, 0]"
    assert failure.hint == "squeeze it"


def test_expect_close_does_not_broadcast():
    with pytest.raises(CheckFailed, match="shape"):
        expect_close("w", torch.tensor(1.0), torch.ones(3))


def test_expect_close_reports_a_value_mismatch():
    with pytest.raises(CheckFailed) as info:
        expect_close("b", torch.tensor([1.0, 2.5]), torch.tensor([1.0, 2.0]))
    assert info.value.message == "b does not have the expected value."
    assert info.value.got == "tensor of shape (2,): [1, 2.5]"
    assert info.value.expected == "tensor of shape (2,): [1, 2]"


def test_expect_close_honours_the_tolerances():
    expect_close("w", torch.tensor([1.1]), torch.tensor([1.0]), rtol=0, atol=0.2)
    with pytest.raises(CheckFailed):
        expect_close("w", torch.tensor([1.1]), torch.tensor([1.0]), rtol=0, atol=0.01)


@pytest.mark.parametrize("got, expected", [
    ([NAN], [NAN]), ([NAN], [1.0]), ([1.0], [NAN]), ([1.0, NAN], [1.0, 2.0]),
], ids=["nan-nan", "nan-number", "number-nan", "one-nan-among-numbers"])
def test_expect_close_never_matches_nan(got, expected):
    with pytest.raises(CheckFailed):
        expect_close("w", torch.tensor(got), torch.tensor(expected))


def test_expect_close_matches_infinity_only_with_the_same_infinity():
    inf = float("inf")
    expect_close("w", torch.tensor([inf]), torch.tensor([inf]))
    for other in ([1e308], [-inf]):
        with pytest.raises(CheckFailed):
            expect_close("w", torch.tensor([inf], dtype=torch.float64), torch.tensor(other, dtype=torch.float64))


@pytest.mark.parametrize("got", [None, "0.5", {"w": 1.0}, [1.0, None]], ids=["none", "str", "dict", "list-with-none"])
def test_expect_close_fails_the_check_when_got_is_not_numeric(got):
    with pytest.raises(CheckFailed):
        expect_close("w", got, torch.zeros(2))


def test_expect_and_expect_tensor():
    expect(True, "never raised")
    with pytest.raises(CheckFailed, match="must be a tensor"):
        expect_tensor("w", [1.0])
    with pytest.raises(CheckFailed, match=r"must have shape \(2,\)"):
        expect_tensor("w", WireTensor(torch.zeros(3)), shape=(2,))
    with pytest.raises(CheckFailed, match="must have dtype torch.float32"):
        expect_tensor("w", WireTensor(torch.zeros(2, dtype=torch.float64)))
    t = WireTensor(torch.zeros(2))
    assert expect_tensor("w", t, shape=(2,)) is t


# ----------------------------------------------------------------------------- fmt
def test_fmt_truncates_a_long_tensor():
    assert fmt(torch.arange(20.0)) == "tensor of shape (20,): [0, 1, 2, 3, 4, 5, 6, 7, ...]"
    assert fmt(torch.arange(20), limit=3) == "tensor of shape (20,): [0, 1, 2, ...]"


def test_fmt_does_not_mark_a_tensor_that_fits():
    assert fmt(torch.arange(8.0)).endswith("7]")


def test_fmt_shows_a_few_significant_digits_and_special_values():
    assert fmt(torch.tensor([1 / 3, NAN, float("inf")], dtype=torch.float64)) == \
        "tensor of shape (3,): [0.333333, nan, inf]"
    assert fmt(torch.tensor(2.5)) == "tensor(2.5)"
    assert fmt(torch.tensor([True, False])) == "tensor of shape (2,): [True, False]"


def test_fmt_marks_a_non_leaf_tensor_with_its_grad_fn():
    text = fmt(WireTensor(torch.ones(2), requires_grad=True, is_leaf=False, grad_fn="MulBackward0"))
    assert text == "tensor of shape (2,): [1, 1] (requires_grad=True, non-leaf, grad_fn=MulBackward0)"


def test_fmt_marks_a_leaf_that_requires_grad_but_not_a_plain_tensor():
    assert fmt(WireTensor(torch.tensor(2.0), requires_grad=True)) == "tensor(2) (requires_grad=True)"
    assert fmt(WireTensor(torch.tensor(2.0))) == "tensor(2)"


def test_fmt_truncates_lists_and_renders_dicts_and_scalars():
    assert fmt(list(range(10)), limit=3) == "[0, 1, 2, ...]"
    assert fmt({"loss": 0.1234567, "ok": True, "name": "w"}) == "{loss: 0.123457, ok: True, name: 'w'}"
    assert fmt(None) == "None"


# ----------------------------------------------------------------------------- render_example
def test_render_example_flattens_a_single_nested_dict_without_a_prefix():
    assert render_example({"problem": {"lr": 0.1, "epochs": 3}}) == {"lr": 0.1, "epochs": 3}


def test_render_example_prefixes_nested_keys_when_there_are_several_arguments():
    assert render_example({"problem": {"lr": 0.1}, "seed": 3}) == {"problem.lr": 0.1, "seed": 3}


def test_render_example_flattens_several_levels():
    drawn = {"run": {"opt": {"name": "sgd", "lr": 0.5}, "epochs": 2}, "seed": 1}
    assert render_example(drawn) == {"run.opt.name": "sgd", "run.opt.lr": 0.5, "run.epochs": 2, "seed": 1}


def test_render_example_turns_tensors_and_lists_into_short_strings_and_rounds_floats():
    out = render_example({"x": torch.arange(20.0), "pairs": [(1, 2)], "lr": 0.123456789, "flag": None})
    assert out == {"x": "tensor of shape (20,): [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...]",
                   "pairs": "[[1, 2]]", "lr": 0.123457, "flag": None}
    json.dumps(out)


def test_check_collects_strategies_and_error_hints():
    @check(points=2.5, description="d", hint="h", visible=False, examples=7,
           error_hints={"KeyError": "use the right key"}, x=st.integers())
    def my_check(sub, x):
        pass

    assert (my_check.name, my_check.points, my_check.visible, my_check.examples) == ("my_check", 2.5, False, 7)
    assert list(my_check.strategies) == ["x"]
    assert my_check.hint_for_error("KeyError: 'w'") == "use the right key"
    assert my_check.hint_for_error("ValueError: no") == "h"
