"""Checks for non-leaf-grad: ``input_and_hidden_grads(x, w) -> (grad_x, grad_h)`` for
``h = torch.tanh(x @ w)`` and ``z = (h ** 2).sum()``.

The reference gradients are computed here with autograd in float32. Besides the correct
gradients the checks compute those of the usual mistakes, so that feedback can name the
misconception instead of only saying "wrong".

The contract properties of every reply (two float32 tensors of the right shapes; ``x`` and
``w`` left unchanged) are invariants: they are checked on every call any check makes. Inputs
cover the whole space the statement admits: B from 1 to 64 (mostly small), n and m from 1
to 12, contiguous, transposed and strided tensors, and three value regimes (ordinary,
small values where tanh is linear, large ones where it saturates). ``repeated_calls_agree``
calls the function several times on the same tensor objects in one driver call.
"""

import torch
from hypothesis import strategies as st

from grader.checks import CheckFailed, check, expect, expect_close, expect_tensor, invariant
from grader.i18n.text import N_, T, TN
from grader.sandbox.wire import WireTensor
from grader.strategies import layouts

NON_LEAF_HINT = N_("Only leaf tensors get their .grad filled by backward(). h = torch.tanh(x @ w) is "
                   "an intermediate result, not a leaf, so h.grad is None unless you call "
                   "h.retain_grad() before backward() (or use torch.autograd.grad(z, [x, h])).")
X_NONE_HINT = N_("grad_x is None: backward() fills x.grad only when x is a leaf that requires grad "
                 "and z was computed from it. Make x require grad before computing h, and do not "
                 "detach anything between x and z.")
FACTOR_TWO_HINT = N_("Your gradient is half the expected one: the derivative of h ** 2 with respect "
                     "to h is 2 * h, not h.")
SUM_OF_H_HINT = N_("Your gradients are those of h.sum(), not of z = (h ** 2).sum(): start the "
                   "backward pass from z.")
TANH_HINT = N_("Your grad_x matches the derivative 1 - tanh(u) instead of 1 - tanh(u) ** 2: the "
               "derivative of tanh(u) is 1 - tanh(u) ** 2 = 1 - h ** 2.")
TWICE_HINT = N_("Your grad_x is twice the expected one: backward() adds to .grad, so calling it "
                "twice (or reusing a gradient left by an earlier call) doubles the result.")
TRANSPOSE_HINT = N_("dz/dx has the shape of x, (B, n): it is (dz/du) @ w.T where u = x @ w, "
                    "not a product in the other order.")
REPEAT_HINT = N_("An earlier call left something behind that changes a later call. If you call "
                 "x.requires_grad_() on the caller's x (or reuse a leaf of your own), backward() "
                 "keeps adding into the same .grad at every call, and an in-place operation such "
                 "as w.t_() changes w itself. Work on a fresh copy "
                 "(`x.detach().clone().requires_grad_()`) or use torch.autograd.grad, which does "
                 "not touch .grad.")
SHAPE_HINTS = {"grad_x": TRANSPOSE_HINT,
               "grad_h": N_("grad_h has the shape of h = torch.tanh(x @ w), which is (B, m).")}
DTYPE_HINT = N_("The inputs are float32, so the gradients are float32 too: if you compute in "
                "float64, convert the results back with .float().")
INPUTS_HINT = N_("input_and_hidden_grads must not change x or w: avoid in-place operations on "
                 "them (for example w.t_() instead of w.t(), or x.add_()).")

NO_REQUIRES_GRAD_HINT = N_("x and w arrive with requires_grad=False, so autograd records nothing "
                           "unless you make x require grad before computing h: "
                           "`x = x.detach().clone().requires_grad_()`.")

ERROR_HINTS = {"does not require grad and does not have a grad_fn": NO_REQUIRES_GRAD_HINT,
               "retain_grad on Tensor that has requires_grad=False": NO_REQUIRES_GRAD_HINT}


NAMES = ("grad_x", "grad_h")

# ----------------------------------------------------------------------------- inputs
def mostly_small(high, small=5):
    """1..``high``, three times in four from 1..``small`` (quick to run and to shrink)."""
    few = st.integers(1, small)
    return st.one_of(few, few, few, st.integers(1, high))


# Built once: hypothesis validates a strategy object the first time it is drawn from.
BATCHES, WIDTHS, SMALL = mostly_small(64), mostly_small(12), st.integers(1, 5)
SEEDS, LAYOUTS = st.integers(0, 2**16), layouts()
# The scale of x and the decimals its values are rounded to (so that feedback reads well):
# ordinary values; small ones, where tanh is almost linear; large ones, where it saturates.
REGIMES = {"ordinary": (1.0, 3), "small": (0.01, 5), "saturated": (30.0, 2)}
REGIME_NAMES = st.sampled_from(["ordinary", "ordinary", "ordinary", "small", "saturated"])


def _values(draw, batch, n, m, count_x=1, count_w=1):
    """``count_x`` inputs x of shape (B, n) and ``count_w`` weights w of shape (n, m).

    w has standard deviation 1 / sqrt(n), so x @ w has the scale of x: of order 1 for
    ordinary values (tanh is not saturated), 0.01 for small ones, 30 for large ones.
    """
    scale, decimals = REGIMES[draw(REGIME_NAMES)]
    generator = torch.Generator().manual_seed(draw(SEEDS))
    xs = [torch.round(torch.randn((batch, n), generator=generator) * scale, decimals=decimals)
          for _ in range(count_x)]
    ws = [torch.round(torch.randn((n, m), generator=generator) / n ** 0.5, decimals=3)
          for _ in range(count_w)]
    return xs, ws


@st.composite
def problems(draw):
    """One call: x of shape (B, n) and w of shape (n, m), each in a drawn memory layout."""
    batch, n, m = draw(BATCHES), draw(WIDTHS), draw(WIDTHS)
    (x,), (w,) = _values(draw, batch, n, m)
    return {"x": x, "w": w, "layout_x": draw(LAYOUTS), "layout_w": draw(LAYOUTS)}


@st.composite
def sequences(draw):
    """Several calls on the same tensor objects: ``steps`` pairs one of the (one or two) x
    with one of the (one or two) w, so a call may reuse the x of an earlier call with another
    w, its w with another x, or both. The sizes stay small (1..5): what matters here is the
    state a call leaves behind, and each step costs a reference."""
    batch, n, m = draw(SMALL), draw(SMALL), draw(SMALL)
    count_x, count_w = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    xs, ws = _values(draw, batch, n, m, count_x, count_w)
    steps = draw(st.lists(st.tuples(st.integers(0, count_x - 1), st.integers(0, count_w - 1)),
                          min_size=2, max_size=5))
    return {"xs": xs, "ws": ws, "steps": [list(step) for step in steps],
            "layout_x": draw(LAYOUTS), "layout_w": draw(LAYOUTS)}


def _example(x, w, layout_x="contiguous", layout_w="contiguous"):
    return {"x": torch.tensor(x), "w": torch.tensor(w), "layout_x": layout_x, "layout_w": layout_w}


# The boundaries the statement names, tried before any random input.
ONE_ROW = _example([[1.0, -2.0, 0.5]], [[0.5, -0.3], [0.2, 0.1], [-0.4, 0.6]])  # the README's, B = 1
ONE_COLUMN = _example([[0.3, -1.2], [2.0, 0.5], [-0.7, 0.1]], [[0.8], [-0.4]])  # m = 1
NON_CONTIGUOUS = _example([[0.3, -1.2], [2.0, 0.5], [-0.7, 0.1]], [[0.6, -0.2], [0.4, 0.9]],
                          layout_x="transposed", layout_w="strided")
SATURATED = _example([[40.0, -25.0], [3.0, -60.0]], [[1.5, -0.4], [0.3, 1.1]])  # x @ w up to 67
# The same x with another w, that w with another x, then the first pair again.
MIXED_SEQUENCE = {"xs": [torch.tensor([[0.5, -1.0], [1.5, 0.2]]), torch.tensor([[-0.3, 0.8], [1.1, -0.6]])],
                  "ws": [torch.tensor([[0.7, -0.2], [0.3, 0.5]]), torch.tensor([[-0.4, 0.9], [0.6, 0.1]])],
                  "steps": [[0, 0], [0, 1], [1, 1], [0, 0]],
                  "layout_x": "contiguous", "layout_w": "contiguous"}


# ----------------------------------------------------------------------------- references
def reference(x, w):
    """(dz/dx, dz/dh) with autograd, in float32."""
    x = x.clone().requires_grad_()
    h = torch.tanh(x @ w)
    grad_x, grad_h = torch.autograd.grad((h ** 2).sum(), [x, h])
    return grad_x, grad_h


def _close(got, expected):
    return got.shape == expected.shape and bool(
        torch.allclose(got.double(), expected.double(), rtol=1e-4, atol=1e-5))


def diagnose_hidden(x, w, got):
    h = torch.tanh(x @ w)
    for hint, wrong in ((FACTOR_TWO_HINT, h), (SUM_OF_H_HINT, torch.ones_like(h))):
        if _close(got, wrong):
            return hint
    return None


def diagnose_input(x, w, got):
    h = torch.tanh(x @ w)
    candidates = [
        (TWICE_HINT, (4 * h * (1 - h ** 2)) @ w.T),
        (FACTOR_TWO_HINT, (h * (1 - h ** 2)) @ w.T),
        (TANH_HINT, (2 * h * (1 - h)) @ w.T),
        (SUM_OF_H_HINT, (1 - h ** 2) @ w.T),
        (TRANSPOSE_HINT, w @ (2 * h * (1 - h ** 2)).T),
    ]
    for hint, wrong in candidates:
        if _close(got, wrong):
            return hint
    return None


# ----------------------------------------------------------------------------- replies
def distinct_pairs(steps):
    """The (x index, w index) pairs of ``steps``, each once, in order of first use (the fresh
    calls ``run_sequence`` makes before the sequence)."""
    pairs = []
    for i, j in steps:
        if [int(i), int(j)] not in pairs:
            pairs.append([int(i), int(j)])
    return pairs


def calls_of(args):
    """The (x, w) of every call in a reply's ``answers``, in order."""
    if "xs" in args:
        return [(args["xs"][int(i)], args["ws"][int(j)]) for i, j in args["steps"]]
    return [(args["x"], args["w"])]


def answers_of(args, reply, key="answers"):
    """Each call's (x, w) with the driver's report of that call (``key="fresh"``: the calls on
    fresh copies that ``run_sequence`` makes first)."""
    if key == "fresh":
        calls = [(args["xs"][i], args["ws"][j]) for i, j in distinct_pairs(args["steps"])]
    else:
        calls = calls_of(args)
    answers = reply[key]
    expect(isinstance(answers, list) and len(answers) == len(calls),
           TN("Expected a report of {n} call from the driver.",
              "Expected a report of {n} calls from the driver.", len(calls)))
    return list(zip(calls, answers))


def every_call(args, reply):
    """(x, w) and report of every call the driver made, the fresh ones first."""
    fresh = answers_of(args, reply, "fresh") if "xs" in args else []
    return fresh + answers_of(args, reply)


def _in_call(number, total):
    """``{"call", "calls"}`` for the sentences that start "In call 2 of a sequence of 3 calls,",
    or None for a single call."""
    return {"call": number, "calls": total} if total > 1 else None


def _is_tensor(value):
    return isinstance(value, WireTensor)


def _matches(got, expected):
    return _is_tensor(got) and _close(got.value, expected)


def _agree(a, b):
    """Two answers of the student to the same inputs are the same (both None counts)."""
    if a is None or b is None:
        return a is None and b is None
    return (_is_tensor(a) and _is_tensor(b) and a.shape == b.shape and bool(
        torch.allclose(a.value.double(), b.value.double(), rtol=1e-5, atol=1e-6, equal_nan=True)))


# ----------------------------------------------------------------------------- invariants
WATCHED = ("run_grads", "run_sequence")


@invariant(points=2, calls=WATCHED, probe=problems(), examples=3, explicit=[ONE_ROW, ONE_COLUMN],
           description=N_("Returns a pair of float32 tensors, of shapes (B, n) and (B, m), at every call."),
           hint=NON_LEAF_HINT, error_hints=ERROR_HINTS)
def returns_two_tensors_of_the_right_shapes(args, reply):
    pairs = every_call(args, reply)
    for number, ((x, w), answer) in enumerate(pairs, 1):
        call = _in_call(number, len(pairs))
        shapes = {"grad_x": tuple(x.shape), "grad_h": (x.shape[0], w.shape[1])}
        for name, shape in shapes.items():
            if answer[name] is None:
                raise CheckFailed(T("{name} is None instead of a tensor of shape {shape}.", name=name, shape=shape)
                                  if call is None else
                                  T("In call {call} of a sequence of {calls} calls, {name} is None instead of "
                                    "a tensor of shape {shape}.", name=name, shape=shape, **call),
                                  hint=NON_LEAF_HINT if name == "grad_h" else X_NONE_HINT)
            got = expect_tensor(name, answer[name], shape=shape, dtype=None, hint=SHAPE_HINTS[name])
            expect(got.dtype == torch.float32,
                   T("{name} has dtype {dtype} instead of torch.float32.", name=name, dtype=str(got.dtype))
                   if call is None else
                   T("In call {call} of a sequence of {calls} calls, {name} has dtype {dtype} instead of "
                     "torch.float32.", name=name, dtype=str(got.dtype), **call),
                   hint=DTYPE_HINT)


# ----------------------------------------------------------------------------- values
@check(points=3, examples=12, problem=problems(), explicit=[{"problem": ONE_ROW}, {"problem": SATURATED}],
       description=N_("grad_h equals dz/dh = 2 * h."), hint=NON_LEAF_HINT, error_hints=ERROR_HINTS,
       graph=True)
def hidden_gradient_is_correct(sub, problem):
    pending = sub.start("run_grads", **problem)
    _, expected = reference(problem["x"], problem["w"])  # computed while the submission runs
    got = pending.result()["answers"][0]["grad_h"]
    if got is None:
        raise CheckFailed(N_("grad_h is None. Reading h.grad after backward() gives None, because h "
                             "is not a leaf tensor and backward() does not fill its .grad."), expected=expected,
                          hint=NON_LEAF_HINT)
    if not _matches(got, expected):  # the diagnosis is only worth computing on a failure
        expect_close("grad_h", got, expected, rtol=1e-4, atol=1e-5,
                     hint=_is_tensor(got) and diagnose_hidden(problem["x"], problem["w"], got.value)
                     or N_("dz/dh is the derivative of (h ** 2).sum() with respect to h: 2 * h."))


@check(points=3, examples=12, problem=problems(),
       explicit=[{"problem": NON_CONTIGUOUS}, {"problem": ONE_COLUMN}, {"problem": SATURATED}],
       description=N_("grad_x equals dz/dx = (2 * h * (1 - h ** 2)) @ w.T."),
       hint=N_("Compare with the chain rule: dz/dx = (2 * h * (1 - h ** 2)) @ w.T."),
       error_hints=ERROR_HINTS)
def input_gradient_is_correct(sub, problem):
    pending = sub.start("run_grads", **problem)
    expected, _ = reference(problem["x"], problem["w"])  # computed while the submission runs
    got = pending.result()["answers"][0]["grad_x"]
    if got is None:
        raise CheckFailed(N_("grad_x is None."), expected=expected, hint=X_NONE_HINT)
    if not _matches(got, expected):  # the diagnosis is only worth computing on a failure
        expect_close("grad_x", got, expected, rtol=1e-4, atol=1e-5,
                     hint=_is_tensor(got) and diagnose_input(problem["x"], problem["w"], got.value)
                     or N_("Compare with the chain rule: dz/dx = (2 * h * (1 - h ** 2)) @ w.T."))


@invariant(points=1, calls=WATCHED, probe=problems(), examples=3, explicit=[NON_CONTIGUOUS],
           description=N_("Leaves the values of x and w unchanged, at every call."), hint=INPUTS_HINT,
           error_hints=ERROR_HINTS)
def leaves_inputs_unchanged(args, reply):
    pairs = every_call(args, reply)
    for number, ((x, w), answer) in enumerate(pairs, 1):
        call = _in_call(number, len(pairs))
        for name, before in (("x", x), ("w", w)):
            after = answer[f"{name}_after"]
            expect(_is_tensor(after) and after.shape == before.shape and torch.equal(after.value, before),
                   T("input_and_hidden_grads changed its input {name}.", name=name) if call is None else
                   T("In call {call} of a sequence of {calls} calls, input_and_hidden_grads changed its "
                     "input {name}.", name=name, **call),
                   expected=before, got=after)


# ----------------------------------------------------------------------------- sequences
def relation(steps, k):
    """How call ``k`` (0-based) of a sequence relates to the calls before it (a phrase)."""
    i, j = steps[k]
    for earlier in range(k - 1, -1, -1):
        if list(steps[earlier]) == [i, j]:
            return T("the same x and w tensors as call {call}", call=earlier + 1)
    for earlier in range(k - 1, -1, -1):
        if steps[earlier][0] == i:
            return T("the x of call {call} with another w", call=earlier + 1)
        if steps[earlier][1] == j:
            return T("the w of call {call} with another x", call=earlier + 1)
    return T("another x and another w") if k else T("the first call on these tensors")


def _right(answer, expected):
    return all(_matches(answer[name], want) for name, want in zip(NAMES, expected))


def stale_hint(steps, expected, k, answer):
    """The hint about a stale answer if call ``k``'s answer is the right one for another call's
    inputs."""
    for other, pair in enumerate(steps):
        if list(pair) != list(steps[k]) and _right(answer, expected[other]):
            changed = "w" if pair[0] == steps[k][0] else "x" if pair[1] == steps[k][1] else T("x and w")
            return T("This call returned the gradients of an earlier call of the sequence: something "
                     "remembered from a previous call (a cache, a global variable) is reused although "
                     "{changed} is different now. The gradients depend on both x and w: recompute "
                     "them at every call, or key any cache on both inputs' values.", changed=changed)
    return None


@check(points=1, examples=8, sequence=sequences(), explicit=[{"sequence": MIXED_SEQUENCE}],
       description=N_("Several calls on the same x and w tensors, mixed with other inputs, each "
                      "return what a first call on copies of those inputs returns."),
       hint=REPEAT_HINT, error_hints=ERROR_HINTS)
def repeated_calls_agree(sub, sequence):
    """A call of the sequence is wrong because of an earlier call when its answer differs from
    the one a fresh call on copies of the same values gave, or when it is the right answer
    for another call's inputs (a cache that ignores x or w). A call that is wrong in the same
    way on fresh copies is left to the value checks."""
    steps = sequence["steps"]
    pending = sub.start("run_sequence", **sequence)
    by_pair = {tuple(pair): reference(sequence["xs"][pair[0]], sequence["ws"][pair[1]])
               for pair in distinct_pairs(steps)}  # computed while the submission runs
    expected = [by_pair[tuple(int(v) for v in step)] for step in steps]
    reply = pending.result()
    fresh = dict(zip(map(tuple, distinct_pairs(steps)),
                     (answer for _, answer in answers_of(sequence, reply, "fresh"))))
    for k, (_, answer) in enumerate(answers_of(sequence, reply)):
        if _right(answer, expected[k]):
            continue
        first = fresh[tuple(int(v) for v in steps[k])]
        where = {"call": k + 1, "relation": relation(steps, k)}
        for name, want in zip(NAMES, expected[k]):
            if not _agree(first[name], answer[name]):
                raise CheckFailed(T("Call {call} of the sequence ({relation}) returned another {name} than a "
                                    "first call on copies of the same x and w.", name=name, **where),
                                  expected=first[name], got=answer[name],
                                  hint=stale_hint(steps, expected, k, answer) or REPEAT_HINT)
        stale = stale_hint(steps, expected, k, answer)
        if stale is not None:
            raise CheckFailed(T("Call {call} of the sequence ({relation}) returned the gradients of another "
                                "call's inputs.", **where),
                              expected=expected[k][0], got=answer["grad_x"], hint=stale)
