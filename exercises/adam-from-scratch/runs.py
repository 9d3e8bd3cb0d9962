"""The input space of adam-from-scratch: setups, losses and whole runs of actions.

What a kind of run may contain is described by a spec (the run kinds of ``checks.py``):
which hyperparameters may be given (``options``, ``decay``), whether parameter groups,
non-contiguous layouts and tiny gradients appear (``groups``, ``layouts``, ``tiny``), which
actions follow each other and how often (``actions``, ``weights``), whether a loss may leave
parameters out (``partial``), and so on.

The state machines and the invariants' probes draw one seed per setup or action and build the
values from it (a run is cut down by ``trial.minimize``, not by hypothesis); the one-step
checks draw the structure (shapes, hyperparameters, layouts, groups) with hypothesis, which
shrinks it well, and the values from one seed.

All starting values and loss coefficients are multiples of 1/4: the first gradient of every
parameter is then exact on both sides, and a correct float32 implementation never lands on a
near-zero first gradient whose rounding would decide the direction of its first update (an
update of about ``lr * sign(g)``).
"""

from __future__ import annotations

import math
import random
from functools import lru_cache
import torch
from hypothesis import strategies as st

from grader.strategies import learning_rates

GRID = (0.5, 1.0, -1.0, 0.0, 2.0, -0.5, 0.25, -2.0, 1.5, -0.25, 0.75, -1.5, 1.25, -0.75,
        1.75, -1.25, -1.75)
SHAPES = ((1,), (2,), (3,), (2, 2), (2, 3), (4,), (3, 2))
C_VALUES = (1.0, 0.5, 0.0, -0.5, 2.0)
LR_RANGE = (1e-4, 0.1)
BETA1 = (0.9, 0.0, 0.5, 0.8, 0.95)
BETA2 = (0.999, 0.9, 0.99, 0.995)
EPSILONS = (1e-8, 1e-10, 1e-6, 1e-3, 0.1)
WEIGHT_DECAYS = (0.5, 0.125, 0.015625, 0.01, 1e-4)
TINY_SCALES = (1e-6, 1e-7, 1e-8)  # loss scales whose gradients make eps matter
LAYOUTS = ("contiguous", "contiguous", "transposed", "strided")
SEEDS = st.integers(0, 2**32 - 1)


# ----------------------------------------------------------------------------- seeded draws
def _grid_tensor(rng, shape):
    return torch.tensor([rng.choice(GRID) for _ in range(math.prod(shape))],
                        dtype=torch.float32).reshape(shape)


def _lr(rng):
    low, high = (math.log10(v) for v in LR_RANGE)
    return float(f"{10 ** rng.uniform(low, high):.3g}")


def _options(rng, spec, odds):
    """Hyperparameters, each given with probability ``odds`` (else left to the default)."""
    draws = {"lr": lambda: _lr(rng), "betas": lambda: [rng.choice(BETA1), rng.choice(BETA2)],
             "eps": lambda: rng.choice(EPSILONS), "weight_decay": lambda: rng.choice(WEIGHT_DECAYS)}
    keys = list(spec.options) + (["weight_decay"] if spec.decay else [])
    return {key: draws[key]() for key in keys if rng.random() < odds}


def _groups(rng, spec, count):
    """Two parameter groups splitting the parameters (in any order), with options of their own."""
    order = list(range(count))
    rng.shuffle(order)
    cut = rng.randint(1, count - 1)
    return [{"params": sorted(order[:cut]), **_options(rng, spec, 0.3)},
            {"params": sorted(order[cut:]), **_options(rng, spec, 0.6)}]


def seeded_setup(seed, spec):
    """The parameters and the optimizer of a run, from one seed."""
    rng = random.Random(seed)
    shapes = [rng.choice(SHAPES) for _ in range(rng.randint(1, spec.max_params))]
    setup = {"params": [_grid_tensor(rng, shape) for shape in shapes]}
    tiny = spec.tiny and rng.random() < 0.25
    # Tiny gradients mostly with the default hyperparameters: eps = 1e-8 is what matters there.
    setup["hyper"] = {} if tiny and rng.random() < 0.5 else _options(rng, spec, 0.5)
    if spec.groups and len(shapes) > 1 and rng.random() < 0.5:
        setup["groups"] = _groups(rng, spec, len(shapes))
    if spec.layouts:
        layouts = [rng.choice(LAYOUTS) for _ in shapes]
        layouts = [lay if lay != "transposed" or len(s) == 2 else "strided" for lay, s in zip(layouts, shapes)]
        if set(layouts) != {"contiguous"}:
            setup["layouts"] = layouts
    if tiny:
        setup["scale"] = rng.choice(TINY_SCALES)
    return setup


def seeded_loss(rng, shapes, c_values, partial):
    """One term per parameter, ``{"c": float, "d": tensor}`` for ``(c * p**2 + d * p).sum()``,
    or None for a parameter left out of the loss (at least one parameter takes part). Some
    terms are zero (a gradient of zeros: a normal step, where the weight decay shows most)."""
    keep = [not partial or rng.random() < 0.6 for _ in shapes]
    if not any(keep):
        keep[rng.randrange(len(shapes))] = True
    return [None if not kept else {"c": 0.0, "d": torch.zeros(shape)} if rng.random() < 0.1
            else {"c": rng.choice(c_values), "d": _grid_tensor(rng, shape)}
            for shape, kept in zip(shapes, keep)]


def seeded_grad_changes(rng, count):
    """What the training loop does to each .grad: keep it, set it to None ("none") or to zeros."""
    what = [rng.choice(["keep", "none", "zero"]) for _ in range(count)]
    if set(what) == {"keep"}:
        what[rng.randrange(count)] = rng.choice(["none", "zero"])
    return what


def loop_count(rng):
    """Iterations of a loop: a few, or enough to go past the tenth update (up to 25)."""
    return rng.randint(1, 6) if rng.random() < 0.5 else rng.randint(8, 25)


class RunState:
    """What the next action of a run may be: which parameters hold a gradient now."""

    def __init__(self, setup):
        self.shapes = [tuple(p.shape) for p in setup["params"]]
        self.has_grad = [False] * len(self.shapes)

    def allows(self, spec, kind):
        return kind != "step" or not spec.step_needs_grads or all(self.has_grad)


def next_action(spec, rng, state):
    """The next action of a run of kind ``spec``, drawn with ``rng``; updates ``state``."""
    kinds = [k for k in spec.actions if state.allows(spec, k)]
    kind = rng.choices(kinds, weights=[spec.weights[k] for k in kinds])[0]
    argument = None
    if kind == "backward":
        argument = seeded_loss(rng, state.shapes, spec.c_values, spec.partial)
        state.has_grad = [had or term is not None for had, term in zip(state.has_grad, argument)]
    elif kind == "zero_grad":
        argument = rng.choice(spec.zero_modes)
        if argument is not False:
            state.has_grad = [False] * len(state.shapes)
    elif kind == "set_grads":
        argument = seeded_grad_changes(rng, len(state.shapes))
        state.has_grad = [what == "zero" or had and what == "keep"
                          for had, what in zip(state.has_grad, argument)]
    elif kind == "loop":
        terms = seeded_loss(rng, state.shapes, spec.c_values, spec.partial)
        argument = {"terms": terms, "count": loop_count(rng), "clear": spec.loop_clear}
        state.has_grad = [term is not None for term in terms]  # cleared, then one backward
    return kind, argument


def action_rng(seed, position):
    # The action's own generator: the same seed drawn twice in a run (hypothesis likes to
    # repeat a value) still gives two different actions.
    return random.Random(seed * 1_000_003 + position)


def seeded_run(spec, setup_seed, action_seeds):
    """A whole run: ``[("reset", setup), action, ...]``."""
    setup = seeded_setup(setup_seed, spec)
    state, run = RunState(setup), [("reset", setup)]
    for seed in action_seeds:
        run.append(next_action(spec, action_rng(seed, len(run)), state))
    return run


# ----------------------------------------------------------------------------- the driver call
SETUP_KEYS = ("groups", "layouts", "scale", "iterable")


def call_args(actions):
    """The keyword arguments of ``run_actions`` for a run."""
    setup = actions[0][1]
    args = {"params": setup["params"], "hyper": setup["hyper"],
            "actions": [[kind, argument] for kind, argument in actions[1:]]}
    args.update({key: setup[key] for key in SETUP_KEYS if setup.get(key) is not None})
    return args


def actions_of(args):
    """The run behind the keyword arguments of a ``run_actions`` call (the inverse of call_args)."""
    setup = {"params": args["params"], "hyper": args["hyper"],
             **{key: args[key] for key in SETUP_KEYS if args.get(key) is not None}}
    return [("reset", setup)] + [(kind, argument) for kind, argument in args["actions"]]


def probe_runs(spec, max_actions):
    """Whole runs of kind ``spec`` as ``run_actions`` arguments (an invariant's own examples)."""
    return st.builds(lambda seed, seeds: call_args(seeded_run(spec, seed, seeds)),
                     SEEDS, st.lists(SEEDS, min_size=1, max_size=max_actions))


# ----------------------------------------------------------------------------- one step, drawn by value
# Strategies are built once: hypothesis validates every new strategy object, which costs more
# than drawing from it.
BETAS = st.tuples(st.sampled_from(BETA1), st.sampled_from(BETA2)).map(list)
_OPTIONAL = {"lr": learning_rates(*LR_RANGE), "betas": BETAS, "eps": st.sampled_from(EPSILONS)}
_WEIGHT_DECAYS = st.sampled_from(WEIGHT_DECAYS)
HYPERS = {  # keyword arguments of Adam(...); a key left out means "use the default"
    False: st.fixed_dictionaries({}, optional={**_OPTIONAL, "weight_decay": st.just(0.0)}),
    True: st.fixed_dictionaries({"weight_decay": _WEIGHT_DECAYS}, optional=_OPTIONAL),  # decay > 0
}
_GROUP_OPTIONS = {
    False: st.fixed_dictionaries({}, optional={**_OPTIONAL, "weight_decay": st.just(0.0)}),
    True: st.fixed_dictionaries({}, optional={**_OPTIONAL, "weight_decay": st.sampled_from((0.0,) + WEIGHT_DECAYS)}),
}
_SHAPE_LISTS = st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3)
_LAYOUT = st.sampled_from(LAYOUTS)
_SCALE = st.sampled_from((1.0, 1.0, 1.0) + TINY_SCALES)
_ONE_IN_FOUR = st.integers(0, 3)


@lru_cache(maxsize=None)
def _first_groups(count):
    return st.lists(st.integers(0, count - 1), min_size=1, max_size=count - 1, unique=True)


@st.composite
def group_splits(draw, count, decay):
    """Two parameter groups over ``count`` parameters; the second one has options of its own."""
    first = draw(_first_groups(count))
    rest = [i for i in range(count) if i not in first]
    return [{"params": sorted(first)}, {"params": rest, **draw(_GROUP_OPTIONS[decay])}]


@st.composite
def first_steps(draw, decay=False):
    """One setup and one loss over every parameter: parameters of 1 to 3 shapes, in any layout,
    sometimes in two groups, sometimes with tiny gradients. With ``decay``, weight_decay > 0."""
    shapes = draw(_SHAPE_LISTS)
    # The values come from one seed: drawing them one by one costs more than the step they feed.
    rng = random.Random(draw(SEEDS))
    problem = {"params": [_grid_tensor(rng, shape) for shape in shapes], "hyper": draw(HYPERS[decay]),
               "terms": [{"c": rng.choice(C_VALUES), "d": _grid_tensor(rng, shape)} for shape in shapes]}
    layouts = [draw(_LAYOUT) for _ in shapes]
    layouts = [lay if lay != "transposed" or len(s) == 2 else "strided" for lay, s in zip(layouts, shapes)]
    if set(layouts) != {"contiguous"}:
        problem["layouts"] = layouts
    if len(shapes) > 1 and draw(_ONE_IN_FOUR) == 0:
        problem["groups"] = draw(group_splits(len(shapes), decay))
    scale = draw(_SCALE)
    if scale != 1.0:
        problem["scale"] = scale
    return problem


def one_step_run(problem):
    setup = {key: value for key, value in problem.items() if key != "terms"}
    return [("reset", setup), ("backward", problem["terms"]), ("step", None)]
