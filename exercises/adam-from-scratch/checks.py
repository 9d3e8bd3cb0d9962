"""Checks for adam-from-scratch: ``class Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
weight_decay=0.0)`` with ``step()`` and ``zero_grad(set_to_none=True)``.

The reference is ``torch.optim.Adam`` itself, run here, in the trusted process, on identical
copies of the parameters.

The multi-step checks are hypothesis state machines. A run draws a setup (parameters and
hyperparameters) and then up to ``STEPS_PER_RUN`` actions: backward passes that accumulate
into ``.grad``, ``step()``, ``zero_grad()``, or gradients dropped by the training loop. At
the end of the run the whole sequence goes to the sandbox in one call (``run_actions``),
which reports the parameters after every ``step()`` (and whether it changed any ``.grad``)
and the gradients after every ``zero_grad()``; meanwhile the trusted twin replays the
sequence with ``torch.optim.Adam``; the two are then compared action by action. One call
per run instead of one per action keeps a grading well under a second. The first difference
fails the check with the actions up to it, cut down by :func:`minimize` to a short sequence
the student can replay. That sequence is then replayed on Adams with the usual mistakes
built in (:class:`SimAdam`), so that the feedback can name the misconception.

All starting values and loss coefficients are multiples of 1/4 (and weight decays are powers
of two): the first gradient of every parameter is then exact on both sides, and a correct
float32 implementation never lands on a near-zero first gradient whose rounding would decide
the direction of the first update.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

import torch
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from grader.checks import CheckFailed, check
from grader.runner import hypothesis_settings
from grader.sandbox.client import ContractViolation, StudentError
from grader.wire import WireTensor

RTOL, ATOL = 1e-4, 1e-5
STEPS_PER_RUN = 15

GRID = (0.5, 1.0, -1.0, 0.0, 2.0, -0.5, 0.25, -2.0, 1.5, -0.25, 0.75, -1.5, 1.25, -0.75,
        1.75, -1.25, -1.75)
SHAPES = ((1,), (2,), (3,), (2, 2), (2, 3))
C_VALUES = (1.0, 0.5, 0.0, -0.5, 2.0)
LRS = (0.1, 0.01, 0.001)
BETAS = ((0.9, 0.999), (0.8, 0.99), (0.5, 0.9))
EPSILONS = (1e-8, 1e-3, 0.1)
WEIGHT_DECAYS = (0.5, 0.125, 0.015625)
DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}

# ----------------------------------------------------------------------------- hints
BIAS_HINT = ("Adam divides m by 1 - beta1**t and v by 1 - beta2**t, where t counts this "
             "parameter's own updates so far (1 at its first update, 2 at its second, ...): "
             "check that t really advances from one step() to the next.")
FROZEN_STEP_HINT = ("Your parameters match an Adam whose step count t stays at 1: the first update "
                    "is right, but every later one is bias-corrected as if it were the first. The "
                    "incremented count must be stored back: with a Python int, "
                    "`step = state['step']; step += 1` only changes the local name `step`.")
STEP_AHEAD_HINT = ("Your parameters match an Adam whose step count is one ahead. At the first "
                   "update of a parameter t must be 1, so that m_hat = m / (1 - beta1) and "
                   "v_hat = v / (1 - beta2).")
NO_CORRECTION_HINT = ("Your parameters match Adam without bias correction. m and v start at zero, "
                      "so Adam divides them by 1 - beta1**t and 1 - beta2**t (t = this parameter's "
                      "step count, starting at 1); without it the first updates are several times "
                      "too large.")
M_ONLY_HINT = ("Your parameters match an Adam that bias-corrects m but not v. Both need it: "
               "m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t).")
BETA1_BOTH_HINT = ("Your parameters match an Adam that uses beta1 in both bias corrections. "
                   "v is corrected with beta2: v_hat = v / (1 - beta2**t).")
EPS_SQRT_HINT = ("Your parameters match an Adam that adds eps inside the square root. "
                 "torch.optim.Adam adds it after: denom = sqrt(v_hat) + eps.")
EPS_EARLY_HINT = ("Your parameters match an Adam that adds eps to sqrt(v) before the bias "
                  "correction (the form of TensorFlow and of the paper's 'efficient' variant). "
                  "torch.optim.Adam adds eps last: denom = sqrt(v) / sqrt(1 - beta2**t) + eps.")
SHARED_STEP_HINT = ("Your parameters match an Adam whose step count is shared by all parameters "
                    "and advances at every step() call. Each parameter needs its own count, which "
                    "advances only when that parameter is updated.")
NONE_AS_ZERO_HINT = ("Your parameters match an Adam that treats a missing gradient as zeros. "
                     "torch.optim.Adam skips a parameter whose .grad is None: its value, its "
                     "moving averages and its step count stay as they are.")
MISSING_COUNTED_HINT = ("Your parameters match an Adam that counts a step for a parameter whose "
                        ".grad is None (a step count shared by all parameters, or a missing gradient "
                        "treated as zeros). torch.optim.Adam skips such a parameter entirely, and each "
                        "parameter's own count advances only when that parameter is updated.")
GENERATOR_HINT = ("After its first loop over the parameters, your optimizer no longer sees any of them. "
                  "`params` may be a generator, such as model.parameters(), which can be iterated "
                  "only once: store `list(params)` in __init__.")
SKIP_HINT = ("A parameter whose .grad is None is skipped entirely (no update, and its step count "
             "does not advance), while a parameter whose .grad holds zeros takes a normal step.")
NONE_GRAD_ERROR_HINT = ("Some parameters have no gradient (.grad is None) because they were not "
                        "part of the loss: skip them in step() (`if p.grad is None: continue`).")
DECOUPLED_HINT = ("Your parameters match decoupled weight decay (AdamW, p *= 1 - lr * weight_decay). "
                  "torch.optim.Adam uses L2 regularisation: it adds weight_decay * p to the "
                  "gradient before updating m and v.")
NO_DECAY_HINT = ("Your parameters match an Adam that ignores weight_decay. torch.optim.Adam adds "
                 "weight_decay * p to the gradient before updating m and v.")
DECAY_HINT = ("torch.optim.Adam applies weight decay as L2 regularisation: grad = p.grad + "
              "weight_decay * p, computed out of place, and then m, v and the update use grad.")
GRAD_CHANGED_HINT = ("step() must not modify .grad. Compute the decayed gradient out of place, "
                     "`grad = p.grad + weight_decay * p`, not with `p.grad.add_(...)`.")
LEAF_HINT = ("Update the parameters in place under torch.no_grad() (`p.add_(...)`, `p.addcdiv_(...)`) "
             "or through p.data: they must stay the same leaf tensors that require grad.")
ZERO_GRAD_HINT = ("zero_grad() sets every .grad to None by default; zero_grad(set_to_none=False) "
                  "fills the existing gradients with zeros instead; a .grad that is None stays None "
                  "in both cases.")
ZERO_DIVISION_HINT = ("1 - beta1**t is 0 when t is 0: count the current update before computing the "
                      "bias corrections, so that t is 1 at the first update of a parameter.")
IN_PLACE_LEAF_HINT = ("A parameter that requires grad cannot be changed in place while autograd "
                      "records: update it under `with torch.no_grad():` (or decorate step() with "
                      "@torch.no_grad()).")
FIRST_STEP_HINT = ("At the first step, m = (1 - beta1) * g and v = (1 - beta2) * g**2, the bias "
                   "correction divides them by 1 - beta1 and 1 - beta2, and the update is "
                   "lr * m_hat / (sqrt(v_hat) + eps): compare each line with this.")

# Mistakes the diagnosis replays, in the order they are tried (first match wins).
MISTAKES = (
    ("frozen_step", FROZEN_STEP_HINT),
    ("shared_step", SHARED_STEP_HINT),
    ("none_as_zero", NONE_AS_ZERO_HINT),
    ("step_ahead", STEP_AHEAD_HINT),
    ("no_correction", NO_CORRECTION_HINT),
    ("m_correction_only", M_ONLY_HINT),
    ("beta1_for_both", BETA1_BOTH_HINT),
    ("eps_inside_sqrt", EPS_SQRT_HINT),
    ("eps_before_correction", EPS_EARLY_HINT),
    ("decoupled_weight_decay", DECOUPLED_HINT),
    ("no_weight_decay", NO_DECAY_HINT),
    ("used_up_params", GENERATOR_HINT),
)
# Two mistakes that the shortest failing runs cannot tell apart get one hint.
AMBIGUOUS = {frozenset({"shared_step", "none_as_zero"}): MISSING_COUNTED_HINT}


# ----------------------------------------------------------------------------- strategies
def hypers(*, lr=True, betas=True, eps=False, weight_decay=False):
    """Hyperparameters as keyword arguments; an optional key left out means "use the default"."""
    optional = {}
    if lr:
        optional["lr"] = st.sampled_from(LRS)
    if betas:
        optional["betas"] = st.sampled_from(BETAS).map(list)
    if eps:
        optional["eps"] = st.sampled_from(EPSILONS)
    required = {"weight_decay": st.sampled_from(WEIGHT_DECAYS)} if weight_decay else {}
    return st.fixed_dictionaries(required, optional=optional)


def full_hypers():
    """Either all the defaults, or every hyperparameter given (with weight_decay=0.0 or not)."""
    given = st.fixed_dictionaries(
        {"lr": st.sampled_from(LRS), "betas": st.sampled_from(BETAS).map(list),
         "eps": st.sampled_from(EPSILONS)}, optional={"weight_decay": st.just(0.0)})
    return st.one_of(st.just({}), given)


@lru_cache(maxsize=None)
def grid_tensors(shape):
    count = math.prod(shape)
    return st.lists(st.sampled_from(GRID), min_size=count, max_size=count).map(
        lambda values: torch.tensor(values, dtype=torch.float32).reshape(shape))


@st.composite
def first_steps(draw, hyper):
    """One setup and one loss over every parameter, drawn value by value (they shrink well)."""
    shapes = draw(st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3))
    params = [draw(grid_tensors(shape)) for shape in shapes]
    terms = [{"c": draw(st.sampled_from(C_VALUES)), "d": draw(grid_tensors(shape))}
             for shape in shapes]
    return {"params": params, "hyper": draw(hyper), "terms": terms}


# The state machines draw one seed per setup or action and build the values from it: a run
# is minimized by :func:`minimize`, not by hypothesis, so value-by-value draws would only cost
# time (they cost more than the step they feed).
SEEDS = st.integers(0, 2**32 - 1)


def _grid_tensor(rng, shape):
    return torch.tensor([rng.choice(GRID) for _ in range(math.prod(shape))],
                        dtype=torch.float32).reshape(shape)


def seeded_setup(seed, hyper):
    rng = random.Random(seed)
    shapes = [rng.choice(SHAPES) for _ in range(rng.randint(1, 3))]
    return {"params": [_grid_tensor(rng, shape) for shape in shapes], "hyper": hyper}


def seeded_loss(rng, shapes, c_values, partial):
    """One term per parameter, ``{"c": float, "d": tensor}`` for ``(c * p**2 + d * p).sum()``,
    or None for a parameter left out of the loss (at least one parameter takes part)."""
    keep = [not partial or rng.random() < 0.6 for _ in shapes]
    if not any(keep):
        keep[rng.randrange(len(shapes))] = True
    return [{"c": rng.choice(c_values), "d": _grid_tensor(rng, shape)} if kept else None
            for shape, kept in zip(shapes, keep)]


def seeded_grad_changes(rng, count):
    """What the training loop does to each .grad: keep it, set it to None ("none") or to zeros."""
    what = [rng.choice(["keep", "none", "zero"]) for _ in range(count)]
    if set(what) == {"keep"}:
        what[rng.randrange(count)] = rng.choice(["none", "zero"])
    return what


# ----------------------------------------------------------------------------- trusted twin
def adam_kwargs(hyper):
    kwargs = dict(hyper)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return kwargs


def loss_of(params, terms):
    """The same loss as the driver's: sum of (c * p**2 + d * p).sum() over the terms given."""
    loss = None
    for p, term in zip(params, terms):
        if term is None:
            continue
        piece = (term["c"] * p ** 2 + term["d"] * p).sum()
        loss = piece if loss is None else loss + piece
    return loss


class SimAdam:
    """Adam written out like torch.optim.Adam (single-tensor path), or with one usual mistake."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, bug=None):
        self.params = list(params)
        if bug == "used_up_params":  # the generator of model.parameters(), kept as given
            self.params = iter(self.params)
        self.lr, (self.beta1, self.beta2), self.eps, self.wd = lr, betas, eps, weight_decay
        self.bug = bug
        self.state = {}
        self.calls = 0

    @torch.no_grad()
    def step(self):
        self.calls += 1
        beta1, beta2, bug = self.beta1, self.beta2, self.bug
        for p in self.params:
            grad = p.grad
            if grad is None:
                if bug != "none_as_zero":
                    continue
                grad = torch.zeros_like(p)
            state = self.state.setdefault(p, {"step": 0, "m": torch.zeros_like(p),
                                              "v": torch.zeros_like(p)})
            state["step"] += 1
            t = {"frozen_step": 1, "shared_step": self.calls,
                 "step_ahead": state["step"] + 1}.get(bug, state["step"])
            if self.wd != 0:
                if bug == "decoupled_weight_decay":
                    p.mul_(1 - self.lr * self.wd)
                elif bug != "no_weight_decay":
                    grad = grad.add(p, alpha=self.wd)
            state["m"].lerp_(grad, 1 - beta1)
            state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            correction1 = 1 - beta1 ** t
            correction2 = 1 - (beta1 if bug == "beta1_for_both" else beta2) ** t
            if bug == "no_correction":
                correction1 = correction2 = 1.0
            elif bug == "m_correction_only":
                correction2 = 1.0
            m, v = state["m"], state["v"]
            if bug == "eps_inside_sqrt":
                denom = (v / correction2 + self.eps).sqrt()
            elif bug == "eps_before_correction":
                denom = (v.sqrt() + self.eps) / math.sqrt(correction2)
            else:
                denom = (v.sqrt() / math.sqrt(correction2)).add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / correction1)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()


def torch_adam(params, hyper):
    return torch.optim.Adam(params, **adam_kwargs(hyper))


class Trainer:
    """The trusted twin of the sandbox session: same parameters and losses, a given optimizer."""

    def __init__(self, setup, make_optimizer=torch_adam):
        self.params = [v.detach().clone().requires_grad_() for v in setup["params"]]
        self.optimizer = make_optimizer(self.params, setup["hyper"])

    def apply(self, action):
        kind, argument = action
        if kind == "backward":
            loss = loss_of(self.params, argument)
            if loss is not None:
                loss.backward()
        elif kind == "step":
            self.optimizer.step()
        elif kind == "zero_grad":
            if argument is None:
                self.optimizer.zero_grad()
            else:
                self.optimizer.zero_grad(set_to_none=argument)
        elif kind == "set_grads":
            for p, what in zip(self.params, argument):
                if what == "none":
                    p.grad = None
                elif what == "zero":
                    p.grad = torch.zeros_like(p)

    def values(self):
        return [p.detach() for p in self.params]

    def grads(self, clone=False):
        return [None if p.grad is None else p.grad.detach().clone() if clone else p.grad.detach()
                for p in self.params]


def replay(actions, make_optimizer=torch_adam):
    """Run ``actions`` (the first one is ("reset", setup)) on a fresh trusted twin.

    Returns the twin and, per action, what it looked like afterwards: the parameters after a
    step(), the gradients after a zero_grad(), None after anything else.
    """
    trainer = Trainer(actions[0][1], make_optimizer)
    after = [None]
    for action in actions[1:]:
        trainer.apply(action)
        if action[0] == "step":
            after.append([v.clone() for v in trainer.values()])
        elif action[0] == "zero_grad":
            after.append(trainer.grads(clone=True))
        else:
            after.append(None)
    return trainer, after


def close(got, expected):
    return (tuple(got.shape) == tuple(expected.shape)
            and bool(torch.allclose(got.double(), expected.double(), rtol=RTOL, atol=ATOL)))


def diagnose(actions, observed):
    """The hint of the usual mistake whose replay ends where the student's Adam did, if any.

    ``observed`` is ``("params", values)`` or ``("grads", gradients)`` at the end of ``actions``.
    """
    what, got = observed
    matches = []
    for bug, hint in MISTAKES:
        def make(params, hyper, bug=bug):
            return SimAdam(params, **{**DEFAULTS, **adam_kwargs(hyper)}, bug=bug)
        try:
            twin, _ = replay(actions, make)
        except (RuntimeError, ValueError, ZeroDivisionError):
            continue
        expected = twin.values() if what == "params" else twin.grads()
        if all(g is None and e is None or g is not None and e is not None and close(g, e)
               for g, e in zip(got, expected)):
            matches.append(bug)
    if not matches:
        return None
    return AMBIGUOUS.get(frozenset(matches[:2]), dict(MISTAKES)[matches[0]])


# ----------------------------------------------------------------------------- rendering
def _tensor_text(value):
    return f"torch.tensor({value.tolist()!r})"


def action_text(action):
    kind, argument = action
    if kind == "reset":
        lines = [f"p{i} = torch.tensor({v.tolist()!r}, requires_grad=True)"
                 for i, v in enumerate(argument["params"])]
        names = ", ".join(f"p{i}" for i in range(len(argument["params"])))
        options = "".join(f", {k}={tuple(v) if k == 'betas' else v!r}"
                          for k, v in argument["hyper"].items())
        # iter(): the grader passes an iterator that can be used once, like model.parameters().
        return "; ".join(lines + [f"opt = Adam(iter([{names}]){options})"])
    if kind == "backward":
        pieces = []
        for i, term in enumerate(argument):
            if term is None:
                continue
            linear = f"{_tensor_text(term['d'])} * p{i}"
            inner = linear if term["c"] == 0 else f"{term['c']!r} * p{i}**2 + {linear}"
            pieces.append(f"({inner}).sum()")
        return f"({' + '.join(pieces)}).backward()"
    if kind == "step":
        return "opt.step()"
    if kind == "zero_grad":
        return "opt.zero_grad()" if argument is None else f"opt.zero_grad(set_to_none={argument})"
    if kind == "set_grads":
        parts = [f"p{i}.grad = None" if what == "none" else f"p{i}.grad = torch.zeros_like(p{i})"
                 for i, what in enumerate(argument) if what != "keep"]
        return "; ".join(parts)
    raise ValueError(kind)


def steps_text(actions):
    return "; ".join(action_text(a) for a in actions)


# ----------------------------------------------------------------------------- comparisons
class Diverged(CheckFailed):
    """A difference found at the end of ``actions``.

    ``kind`` names the sort of failure ("params", "grads", "leaf", "error:TypeError", ...): a
    shorter sequence replaces this one only if it fails in the same way. ``observed`` is what
    the student's code showed then, ``("params", values)`` or ``("grads", gradients)``.
    """

    def __init__(self, message, actions, kind, *, expected=None, got=None, hint=None,
                 observed=None):
        super().__init__(message, expected=expected, got=got, hint=hint,
                         example={"steps": steps_text(actions)})
        self.actions, self.kind, self.observed = list(actions), kind, observed


def _unreadable(actions):
    return Diverged(f"What your optimizer left after `{action_text(actions[-1])}` could not be "
                    "read back.", actions, "contract")


def _split(flat, shapes):
    """The tensors of ``shapes`` back from the driver's flat float32 tensor."""
    sizes = [math.prod(shape) for shape in shapes]
    if not isinstance(flat, WireTensor) or tuple(flat.shape) != (sum(sizes),):
        raise TypeError("the flat tensor does not have the expected size")
    return [piece.reshape(shape) for piece, shape in zip(torch.split(flat.value, sizes), shapes)]


def compare_params(actions, reported, expected_values, hint):
    """The parameters after a step(): same shapes, float32 leaves that require grad, close values."""
    last = action_text(actions[-1])
    shapes = [tuple(e.shape) for e in expected_values]
    for index, expected in enumerate(expected_values):
        shape, dtype = tuple(reported["shapes"][index]), reported["dtypes"][index]
        if shape != shapes[index] or dtype != "float32":
            raise Diverged(f"After `{last}`, p{index} has shape {shape} and dtype {dtype}; it must "
                           f"keep shape {shapes[index]} and dtype float32.", actions, "leaf",
                           hint=LEAF_HINT)
        if not (reported["leaf"][index] is True and reported["requires_grad"][index] is True):
            raise Diverged(f"After `{last}`, p{index} is no longer a leaf tensor that requires grad.",
                           actions, "leaf", hint=LEAF_HINT)
    values = _split(reported["values"], shapes)
    for index, (got, expected) in enumerate(zip(values, expected_values)):
        if not close(got, expected):
            raise Diverged(f"After the last of the steps shown below (`{last}`), p{index} does not "
                           "match torch.optim.Adam.", actions, "params", expected=expected, got=got,
                           hint=hint, observed=("params", values))


def compare_grads(actions, reported, expected_grads, shapes, *, strict, hint):
    """The gradients: None where torch has None (``strict``; else None and zeros are alike)."""
    last = action_text(actions[-1])
    values = _split(reported["values"], shapes)
    missing = [flag is True for flag in reported["none"]]
    if len(missing) != len(shapes):
        raise TypeError("one None flag per parameter was expected")
    observed = ("grads", [None if none else value for none, value in zip(missing, values)])
    for index, (none, got, expected) in enumerate(zip(missing, values, expected_grads)):
        if strict and none != (expected is None):
            should = ("None" if expected is None else
                      "a tensor of zeros" if not bool(expected.any()) else "a tensor")
            raise Diverged(f"After `{last}`, p{index}.grad should be {should}, but it is "
                           f"{'None' if none else 'a tensor'}.", actions, "grads",
                           expected=expected, got=None if none else got, hint=hint,
                           observed=observed)
        exp_t = torch.zeros(shapes[index]) if expected is None else expected
        if not close(got, exp_t):
            raise Diverged(f"After `{last}`, p{index}.grad does not hold the expected values.",
                           actions, "grads", expected=exp_t, got=got, hint=hint,
                           observed=observed)


def check_grads_kept(actions, changed, count):
    """step() reads the gradients and leaves them as they were."""
    if not isinstance(changed, list) or len(changed) != count:
        raise TypeError("one flag per parameter was expected")
    for index, flag in enumerate(changed):
        if flag is not False:
            raise Diverged(f"`{action_text(actions[-1])}` changed p{index}.grad: step() must read "
                           "the gradients, not modify them.", actions, "grads_changed",
                           hint=GRAD_CHANGED_HINT)


def student_failure(exc, actions, hint, none_hint=NONE_GRAD_ERROR_HINT):
    """The student's code raised (or broke the contract) during ``actions``: fail with the steps."""
    if isinstance(exc, StudentError):
        message = f"Your code raised {exc.type_name}: {exc.message}"
        if exc.traceback:
            message += f"\n{exc.traceback}"
        text = f"{exc.type_name}: {exc.message}"
        if "NoneType" in text:
            hint = none_hint
        elif "ZeroDivisionError" in text:
            hint = ZERO_DIVISION_HINT
        elif "leaf Variable that requires grad" in text:
            hint = IN_PLACE_LEAF_HINT
        return Diverged(message, actions, f"error:{exc.type_name}", hint=hint)
    sentence = str(exc).strip()  # the driver's own, complete sentence
    return Diverged(sentence if sentence.endswith(".") else sentence + ".", actions, "contract",
                    hint=hint)


def with_diagnosis(failure):
    """``failure`` with the hint of the usual mistake its numbers match, if one does."""
    hint = diagnose(failure.actions, failure.observed) if failure.observed is not None else None
    if hint is None:
        return failure
    diagnosed = CheckFailed(failure.message, hint=hint, example=failure.example)
    diagnosed.expected, diagnosed.got = failure.expected, failure.got
    return diagnosed


# ----------------------------------------------------------------------------- runs
class Spec:
    """What a kind of run looks like and how it is judged; the state machines refine it."""

    hyper = hypers(eps=True)
    actions = ("backward", "step", "zero_grad")
    weights = {"backward": 4, "step": 4, "zero_grad": 2, "set_grads": 3}  # odds of the next action
    partial = False  # may a parameter be left out of a loss?
    c_values = C_VALUES
    zero_modes = (None,)  # the set_to_none arguments of zero_grad (None: the default)
    step_needs_grads = True  # step() only when every parameter has a gradient?
    compare_values = True  # compare the parameters after each step()?
    strict_grads = False  # is a gradient of zeros different from None?
    hint = BIAS_HINT
    none_hint = NONE_GRAD_ERROR_HINT  # for a "NoneType" error


def run_actions(sub, spec, actions):
    """Run ``actions`` in the sandbox and on the twin; the :class:`Diverged` at the first
    difference, or None if there is none."""
    setup = actions[0][1]
    try:
        pending = sub.start("run_actions", params=setup["params"], hyper=setup["hyper"],
                            actions=[list(a) for a in actions[1:]],
                            report_params=spec.compare_values)
        _, expected = replay(actions)  # computed while the submission runs
        reports = pending.result()
    except (StudentError, ContractViolation) as exc:
        reached = sub.call("run_progress")  # the index of the action that raised
        if not isinstance(reached, int) or not 0 <= reached < len(actions):
            reached = len(actions) - 1
        return student_failure(exc, actions[:reached + 1], spec.hint, spec.none_hint)
    if not isinstance(reports, list) or len(reports) != len(actions) - 1:
        return _unreadable(actions)
    shapes = [tuple(p.shape) for p in setup["params"]]
    done = actions
    try:
        for index in range(1, len(actions)):
            report, done = reports[index - 1], actions[:index + 1]
            if actions[index][0] == "step":
                if spec.compare_values:
                    compare_params(done, report["params"], expected[index], spec.hint)
                check_grads_kept(done, report["grads_changed"], len(shapes))
            elif actions[index][0] == "zero_grad":
                compare_grads(done, report, expected[index], shapes, strict=spec.strict_grads,
                              hint=ZERO_GRAD_HINT)
    except Diverged as failure:
        return failure
    except (TypeError, KeyError, IndexError, AttributeError, RuntimeError):
        return _unreadable(done)
    return None


def _without_param(actions, index):
    """The same run with parameter ``index`` removed (and losses left without parameters dropped)."""
    reset = actions[0][1]
    out = [("reset", {"params": [p for i, p in enumerate(reset["params"]) if i != index],
                      "hyper": reset["hyper"]})]
    for kind, argument in actions[1:]:
        if kind in ("backward", "set_grads"):
            argument = [a for i, a in enumerate(argument) if i != index]
            if kind == "backward" and all(t is None for t in argument):
                continue
            if kind == "set_grads" and all(a == "keep" for a in argument):
                continue
        out.append((kind, argument))
    return out


def _first_element_only(actions, index):
    """The same run with parameter ``index`` cut down to its first element."""
    def cut(t):
        return t.reshape(-1)[:1].clone()

    reset = actions[0][1]
    out = [("reset", {"params": [cut(p) if i == index else p for i, p in enumerate(reset["params"])],
                      "hyper": reset["hyper"]})]
    for kind, argument in actions[1:]:
        if kind == "backward":
            argument = [{"c": t["c"], "d": cut(t["d"])} if i == index and t is not None else t
                        for i, t in enumerate(argument)]
        out.append((kind, argument))
    return out


def _with_default(actions, key):
    reset = actions[0][1]
    hyper = {k: v for k, v in reset["hyper"].items() if k != key}
    return [("reset", {"params": reset["params"], "hyper": hyper})] + list(actions[1:])


def minimize(sub, spec, failure):
    """A shorter, simpler run that fails in the same way, found greedily in a few dozen
    sandbox calls: each action but the reset and the last is dropped in turn (twice over),
    then each parameter, then each element but the first of a parameter, then each
    hyperparameter, keeping every change after which the run still fails the same way.

    Hypothesis's own shrinking is switched off for the state machines: on these runs it needs
    hundreds of replays and still leaves redundant actions behind.
    """
    def attempt(candidate):
        nonlocal failure
        result = run_actions(sub, spec, candidate) if len(candidate) >= 2 else None
        if result is not None and result.kind == failure.kind:
            failure = result

    for _ in range(2):
        index = len(failure.actions) - 2
        while index >= 1:
            actions = failure.actions
            attempt(actions[:index] + actions[index + 1:])
            index = min(index - 1, len(failure.actions) - 2)
    for index in reversed(range(len(failure.actions[0][1]["params"]))):
        if len(failure.actions[0][1]["params"]) > 1:
            attempt(_without_param(failure.actions, index))
    for index in range(len(failure.actions[0][1]["params"])):
        if failure.actions[0][1]["params"][index].numel() > 1:
            attempt(_first_element_only(failure.actions, index))
    for key in list(failure.actions[0][1]["hyper"]):
        if key != "weight_decay":
            attempt(_with_default(failure.actions, key))
    return failure


# ----------------------------------------------------------------------------- state machines
@lru_cache(maxsize=None)
def _setups(hyper):
    return st.builds(seeded_setup, SEEDS, hyper)


class AdamMachine(RuleBasedStateMachine, Spec):
    """Random runs: a setup, then up to ``STEPS_PER_RUN`` actions, checked as a whole at the end.

    There is a single rule, ``act``, which draws the next action among those allowed now:
    with one rule per action, hypothesis would switch whole actions off for entire runs
    (swarm testing), which wastes most of the few runs a grading can afford.
    """

    def __init__(self, sub):
        super().__init__()
        self.sub = sub
        self.run = []
        self.shapes = ()
        self.has_grad = []

    @initialize(data=st.data())
    def reset(self, data):
        setup = data.draw(_setups(self.hyper), label="setup")
        self.shapes = tuple(tuple(p.shape) for p in setup["params"])
        self.has_grad = [False] * len(self.shapes)
        self.run = [("reset", setup)]

    def allowed(self, kind):
        return kind != "step" or not self.step_needs_grads or all(self.has_grad)

    @rule(seed=SEEDS)
    def act(self, seed):
        # The step's own random generator: the same seed drawn twice in a run (hypothesis likes
        # to repeat a value) still gives two different actions.
        rng = random.Random(seed * 1_000_003 + len(self.run))
        kinds = [k for k in self.actions if self.allowed(k)]
        kind = rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]
        argument = None
        if kind == "backward":
            argument = seeded_loss(rng, self.shapes, self.c_values, self.partial)
            self.has_grad = [had or term is not None for had, term in zip(self.has_grad, argument)]
        elif kind == "zero_grad":
            argument = rng.choice(self.zero_modes)
            if argument is not False:
                self.has_grad = [False] * len(self.shapes)
        elif kind == "set_grads":
            argument = seeded_grad_changes(rng, len(self.shapes))
            self.has_grad = [what == "zero" or had and what == "keep"
                             for had, what in zip(self.has_grad, argument)]
        self.run.append((kind, argument))

    def teardown(self):
        if self.run:
            failure = run_actions(self.sub, type(self), self.run)
            if failure is not None:
                raise failure


class ManySteps(AdamMachine):
    """Every parameter in every loss, zero_grad() with its default; step() only when the
    gradients are there; a gradient of zeros and None are not told apart."""


class Skipping(AdamMachine):
    """Parameters left out of losses, and gradients dropped or zeroed by the training loop
    itself (not by zero_grad()); step() at any time."""

    hyper = hypers()
    actions = ("backward", "step", "set_grads")
    partial = True
    step_needs_grads = False
    strict_grads = True
    hint = SKIP_HINT


class ZeroGrad(AdamMachine):
    """zero_grad() in both modes; gradients compared exactly, parameters not compared."""

    hyper = hypers(betas=False)
    partial = True
    c_values = (0.0,)  # linear losses: the gradients do not depend on the parameters' values
    zero_modes = (None, True, False)
    compare_values = False
    strict_grads = True
    hint = ZERO_GRAD_HINT
    none_hint = ZERO_GRAD_HINT


def run_machine(machine, sub, examples):
    options = settings(hypothesis_settings(examples), stateful_step_count=STEPS_PER_RUN,
                       phases=(Phase.explicit, Phase.generate))
    try:
        run_state_machine_as_test(lambda: machine(sub), settings=options)
    except Diverged as failure:
        raise with_diagnosis(minimize(sub, machine, failure)) from None


# ----------------------------------------------------------------------------- one step
class OneStep(Spec):
    strict_grads = True


def one_step(sub, problem, hint):
    spec = type("OneStepSpec", (OneStep,), {"hint": hint})
    actions = [("reset", {"params": problem["params"], "hyper": problem["hyper"]}),
               ("backward", problem["terms"]), ("step", None)]
    failure = run_actions(sub, spec, actions)
    if failure is not None:
        raise with_diagnosis(failure)


# ----------------------------------------------------------------------------- checks
@check(points=2, examples=20,
       problem=first_steps(full_hypers()),
       description="One backward pass and one step() give the parameters of torch.optim.Adam, "
                   "for several lr, betas and eps (or the defaults).",
       hint=FIRST_STEP_HINT)
def first_step_matches_torch_adam(sub, problem):
    one_step(sub, problem, FIRST_STEP_HINT)


@check(points=3,
       description="Over runs of up to 15 actions (backward passes that accumulate, step(), "
                   "zero_grad()), the parameters match torch.optim.Adam after every step().",
       hint=BIAS_HINT)
def matches_torch_adam_over_many_steps(sub):
    run_machine(ManySteps, sub, 12)


@check(points=2,
       description="A parameter whose .grad is None is left alone and its step count does not "
                   "advance; a parameter whose .grad holds zeros takes a normal step.",
       hint=SKIP_HINT)
def skips_parameters_without_grad(sub):
    run_machine(Skipping, sub, 12)


@check(points=1,
       description="zero_grad() and zero_grad(set_to_none=True) set .grad to None; "
                   "zero_grad(set_to_none=False) fills it with zeros; None stays None.",
       hint=ZERO_GRAD_HINT)
def zero_grad_sets_to_none_or_zero(sub):
    run_machine(ZeroGrad, sub, 10)


@check(points=1, examples=10,
       problem=first_steps(hypers(eps=True, weight_decay=True)),
       description="With weight_decay > 0, one step() matches torch.optim.Adam (L2 penalty added "
                   "to the gradient) and leaves .grad unchanged.",
       hint=DECAY_HINT)
def applies_weight_decay_like_torch(sub, problem):
    one_step(sub, problem, DECAY_HINT)
