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

from grader.checks import check
from grader.engine.runner import hypothesis_settings
from grader.sandbox.client import ContractViolation, StudentError

from .compare import (Diverged, check_grads_kept, compare_grads, compare_params, student_failure,
                      unreadable, with_diagnosis)
from .hints import (BIAS_HINT, DECAY_HINT, FIRST_STEP_HINT, NONE_GRAD_ERROR_HINT, SKIP_HINT,
                    ZERO_GRAD_HINT)
from .twin import (BETAS, C_VALUES, EPSILONS, GRID, LRS, SHAPES, STEPS_PER_RUN, WEIGHT_DECAYS,
                   replay)


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
        return unreadable(actions)
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
        return unreadable(done)
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

