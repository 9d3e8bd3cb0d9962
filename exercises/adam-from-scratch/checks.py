"""Checks for adam-from-scratch: ``class Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
weight_decay=0.0)`` with ``step()`` and ``zero_grad(set_to_none=True)``; ``params`` is an
iterable of tensors or a list of parameter groups.

The reference is ``torch.optim.Adam`` itself, run here, in the trusted process, on identical
copies of the parameters (:mod:`.twin`).

The multi-step check runs hypothesis state machines. A run draws a setup (parameters, in any
memory layout, hyperparameters, sometimes two parameter groups or tiny gradients) and then up
to ``STEPS_PER_RUN`` actions: backward passes that accumulate into ``.grad``, ``step()``,
``zero_grad()``, gradients dropped by the training loop, and loops of up to 25 updates. At the
end of the run the whole sequence goes to the sandbox in one call (``run_actions``), which
reports after every ``step()`` and ``zero_grad()``; meanwhile the twin replays the sequence;
the two are then compared step by step (:mod:`.trial`). The first difference fails the check
with the actions up to it, cut down by :func:`.trial.minimize` to a short run the student can
replay, and that run is replayed on Adams with the usual mistakes built in, so that the
feedback can name the misconception.

Two contract properties are invariants, checked on every reply of every check: a parameter
whose ``.grad`` is None is left exactly as it was by ``step()``, and ``zero_grad()`` leaves
None or zeros as torch does. They need no reference: the reply shows them.
"""

from __future__ import annotations

import torch
from hypothesis import Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from grader.checks import CheckFailed, check, invariant
from grader.engine.runner import example_key, hypothesis_settings
from grader.i18n.text import N_, T

from .compare import Diverged, Unreadable, step_rows, zero_grad_rows
from .hints import (BIAS_HINT, DECAY_HINT, FIRST_STEP_HINT, NONE_GRAD_ERROR_HINT, SKIP_HINT,
                    SKIPPED_HINT, ZERO_GRAD_HINT)
from .render import after_text, steps_text
from .runs import (C_VALUES, SEEDS, RunState, action_rng, actions_of, call_args, first_steps,
                   next_action, one_step_run, probe_runs, seeded_setup)
from .boundaries import (DECAY_BOUNDARIES, FIRST_STEP_BOUNDARIES, SKIP_EXPLICIT, ZERO_GRAD_EXPLICIT,
                         explicit_runs, skipping_runs)
from .trial import judge, minimize, with_diagnosis
from .twin import prefix

STEPS_PER_RUN = 10  # actions after the reset; a loop action counts once


# ----------------------------------------------------------------------------- kinds of runs
class Spec:
    """What a kind of run contains and how it is judged (see :mod:`.runs`)."""

    options = ("lr", "betas", "eps")  # hyperparameters that may be given
    decay = True  # may weight_decay be given?
    groups = True  # two parameter groups, sometimes
    layouts = True  # transposed or strided parameters, sometimes
    tiny = True  # tiny gradients, sometimes
    max_params = 4
    actions = ("backward", "step", "zero_grad", "loop")
    weights = {"backward": 4, "step": 4, "zero_grad": 2, "set_grads": 3, "loop": 2}
    partial = False  # may a loss leave parameters out?
    c_values = C_VALUES
    zero_modes = (None,)  # the set_to_none arguments of zero_grad (None: the default)
    loop_clear = "zero_grad"  # how a loop clears the gradients: opt.zero_grad() or p.grad = None
    step_needs_grads = True  # step() only when every parameter has a gradient?
    compare_values = True  # compare the parameters with torch.optim.Adam after each step()?
    hint = BIAS_HINT
    none_hint = NONE_GRAD_ERROR_HINT  # for a "NoneType" error


class ManySteps(Spec):
    """Every parameter in every loss and zero_grad() with its default, so that a gradient of
    zeros and None are alike; step() only when the gradients are there; long loops."""


class Skipping(Spec):
    """Parameters left out of losses, and gradients dropped or zeroed by the training loop
    itself (not by zero_grad(), which has its own invariant); step() at any time."""

    actions = ("backward", "step", "set_grads", "loop")
    partial = True
    loop_clear = "none"
    step_needs_grads = False
    hint = SKIP_HINT


class SkipProbe(Skipping):
    """The skipping invariant's own runs: only the reply is looked at."""

    tiny = False
    compare_values = False


class ZeroGradProbe(Spec):
    """zero_grad() in both modes, with parameters left out of losses; values not compared."""

    options = ("lr",)
    decay = False
    tiny = False
    actions = ("backward", "step", "zero_grad", "set_grads", "loop")
    partial = True
    c_values = (0.0,)
    zero_modes = (None, True, False)
    step_needs_grads = False
    compare_values = False
    hint = ZERO_GRAD_HINT
    none_hint = ZERO_GRAD_HINT


class OneStep(Spec):
    pass


# ----------------------------------------------------------------------------- state machines
class AdamMachine(RuleBasedStateMachine):
    """Random runs: a setup, then up to ``STEPS_PER_RUN`` actions, judged as a whole at the end.

    There is a single rule, ``act``, which draws the next action among those allowed now:
    with one rule per action, hypothesis would switch whole actions off for entire runs
    (swarm testing), which wastes most of the few runs a grading can afford.
    """

    spec = ManySteps

    def __init__(self, sub, failures):
        super().__init__()
        self.sub, self.failures = sub, failures
        self.run, self.state = [], None

    @initialize(seed=SEEDS)
    def reset(self, seed):
        setup = seeded_setup(seed, self.spec)
        self.state, self.run = RunState(setup), [("reset", setup)]

    @rule(seed=SEEDS)
    def act(self, seed):
        self.run.append(next_action(self.spec, action_rng(seed, len(self.run)), self.state))

    def teardown(self):
        if not self.run:
            return
        key = example_key(call_args(self.run))
        if key not in self.failures:  # hypothesis replays a failing run once more at the end
            self.failures[key] = judge(self.sub, self.spec, self.run)
        if self.failures[key] is not None:
            raise self.failures[key]


class ManyStepsMachine(AdamMachine):
    spec = ManySteps


class SkippingMachine(AdamMachine):
    spec = Skipping


def run_machine(machine, sub, examples, explicit=()):
    """``explicit`` runs first, then ``examples`` random runs; the first failure, minimized."""
    spec = machine.spec
    try:
        for actions in explicit:
            failure = judge(sub, spec, actions)
            if failure is not None:
                raise failure
        options = settings(hypothesis_settings(examples), stateful_step_count=STEPS_PER_RUN,
                           phases=(Phase.explicit, Phase.generate))
        failures = {}
        run_state_machine_as_test(lambda: machine(sub, failures), settings=options)
    except Diverged as failure:
        raise with_diagnosis(minimize(sub, spec, failure)) from None


# ----------------------------------------------------------------------------- one step
def one_step(sub, problem, hint):
    spec = type("OneStepSpec", (OneStep,), {"hint": hint})
    failure = judge(sub, spec, one_step_run(problem))
    if failure is not None:
        raise with_diagnosis(failure)


# ----------------------------------------------------------------------------- invariants' help
def _where(actions, origin, kind, argument, initial=False):
    return after_text(kind, argument, origin, actions[0][1], initial=initial)


def _fail(message, actions, origin, hint):
    raise CheckFailed(message, hint=hint, example={"steps": steps_text(prefix(actions, origin))})


def _rows(read, actions, reply):
    try:
        return read(actions, reply)
    except (Unreadable, TypeError, KeyError, IndexError, AttributeError, RuntimeError, ValueError):
        raise CheckFailed(N_("What your optimizer left after these steps could not be read back."),
                          example={"steps": steps_text(actions)}) from None


# ----------------------------------------------------------------------------- checks
@check(points=2, examples=20, problem=first_steps(), explicit=FIRST_STEP_BOUNDARIES,
       description=N_("One backward pass and one step() give the parameters of torch.optim.Adam, "
                      "for any lr, betas and eps (or the defaults), parameter groups, transposed or "
                      "strided parameters and tiny gradients."),
       hint=FIRST_STEP_HINT)
def first_step_matches_torch_adam(sub, problem):
    one_step(sub, problem, FIRST_STEP_HINT)


@check(points=3,
       description=N_("Over runs of up to 10 actions (backward passes that accumulate, step(), "
                      "zero_grad(), gradients set to None, loops of up to 25 updates), the "
                      "parameters match torch.optim.Adam after every step(), for any "
                      "hyperparameters, groups, layouts and tiny gradients."),
       hint=BIAS_HINT)
def matches_torch_adam_over_many_steps(sub):
    run_machine(ManyStepsMachine, sub, 7, explicit=explicit_runs())
    run_machine(SkippingMachine, sub, 5, explicit=skipping_runs())


@invariant(points=2, calls=("run_actions",), probe=probe_runs(SkipProbe, 8), examples=5,
           explicit=[SKIP_EXPLICIT],
           description=N_("On every step() of every run, a parameter whose .grad is None is left "
                          "exactly as it was (same values, .grad still None)."),
           hint=SKIPPED_HINT, error_hints={"NoneType": NONE_GRAD_ERROR_HINT})
def skips_parameters_without_grad(args, reply):
    actions = actions_of(args)
    before = [p.detach() for p in actions[0][1]["params"]]
    for origin, row in _rows(step_rows, actions, reply):
        for index, had_none in enumerate(row["none_before"]):
            if had_none is not True:
                continue
            where = _where(actions, origin, "step", None)
            if not torch.equal(row["values"][index], before[index]):
                _fail(T("p{index}.grad was None, but p{index} changed {where}: a parameter without "
                        "a gradient must be skipped.", index=index, where=where),
                      actions, origin, SKIPPED_HINT)
            if row["grads_changed"][index] is not False:
                _fail(T("p{index}.grad was None before `opt.step()` and is no longer None {where}.",
                        index=index, where=where), actions, origin, SKIPPED_HINT)
        before = row["values"]


@invariant(points=1, calls=("run_actions",), probe=probe_runs(ZeroGradProbe, 10), examples=5,
           explicit=[ZERO_GRAD_EXPLICIT],
           description=N_("On every zero_grad() of every run: zero_grad() and zero_grad(set_to_none=True) "
                          "set .grad to None; zero_grad(set_to_none=False) fills it with zeros; None "
                          "stays None."),
           hint=ZERO_GRAD_HINT, error_hints={"NoneType": ZERO_GRAD_HINT})
def zero_grad_sets_to_none_or_zero(args, reply):
    actions = actions_of(args)
    for origin, mode, row in _rows(zero_grad_rows, actions, reply):
        where = _where(actions, origin, "zero_grad", mode)
        initial = _where(actions, origin, "zero_grad", mode, initial=True)
        for index, (had_none, none) in enumerate(zip(row["none_before"], row["none"])):
            if mode is not False:
                if none is not True:
                    _fail(T("{where}, p{index}.grad should be None, but it is a tensor.",
                            where=initial, index=index), actions, origin, ZERO_GRAD_HINT)
            elif had_none is True and none is not True:
                _fail(T("p{index}.grad was None, and {where} it is a tensor: it should stay None.",
                        index=index, where=where), actions, origin, ZERO_GRAD_HINT)
            elif had_none is not True and (none is not False or bool(row["grads"][index].ne(0).any())):
                _fail(T("{where}, p{index}.grad should be a tensor of zeros, but it is None.",
                        where=initial, index=index) if none is True else
                      T("{where}, p{index}.grad should be a tensor of zeros, but it is not all zeros.",
                        where=initial, index=index), actions, origin, ZERO_GRAD_HINT)


@check(points=1, examples=10, problem=first_steps(decay=True), explicit=DECAY_BOUNDARIES,
       description=N_("With weight_decay > 0 (also per parameter group), one step() matches "
                      "torch.optim.Adam (L2 penalty added to the gradient) and leaves .grad unchanged."),
       hint=DECAY_HINT)
def applies_weight_decay_like_torch(sub, problem):
    one_step(sub, problem, DECAY_HINT)
