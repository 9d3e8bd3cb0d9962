"""The boundaries the statement of adam-from-scratch names, as explicit examples tried before any
random one: what a check finds must not hang on the random draws (whose values even depend on
the modules loaded in the grading process, through hypothesis's harvested constants)."""

import torch

from .runs import call_args


def _loop(terms, count, clear="zero_grad"):
    return ("loop", {"terms": terms, "count": count, "clear": clear})


def _term(c, *d):
    return {"c": c, "d": torch.tensor(d)}


def _reset(params, hyper, **extra):
    return ("reset", {"params": [torch.tensor(p) for p in params], "hyper": hyper, **extra})


README_TERMS = [_term(1.0, -1.0, -1.0)]  # ((w - 0.5) ** 2).sum(), up to a constant
MATRIX = [[1.0, -2.0, 0.5], [0.25, 1.5, -0.5]]
MATRIX_TERM = {"c": 0.5, "d": torch.tensor([[1.0, 0.0, -1.0], [0.5, -0.5, 2.0]])}


def explicit_runs():
    """The multi-step runs: the README's example followed by twelve more updates (past the
    tenth); two groups with their own options, one of them weight_decay=0.0, and a gradient of
    zeros; transposed and strided parameters with tiny gradients and the defaults (where eps
    decides the step)."""
    two_groups = [_term(0.5, 1.0, -0.5), _term(0.0, 0.0, 0.0, 0.0), _term(2.0, -1.0)]
    layouts = [{"c": 1.0, "d": torch.tensor([[0.5, -1.0, 0.25], [1.0, 0.0, -0.5]])},
               _term(0.5, 1.5, -0.75, 0.25)]
    return [
        [_reset([[1.0, -2.0]], {"lr": 0.1}), _loop(README_TERMS, 3), _loop(README_TERMS, 12)],
        [_reset([[1.0, -0.5], [0.75, -1.5, 2.0], [0.5]], {"lr": 0.05, "weight_decay": 0.125},
                groups=[{"params": [0, 2], "betas": [0.8, 0.99], "eps": 1e-3},
                        {"params": [1], "lr": 0.01, "weight_decay": 0.0}]),
         _loop(two_groups, 4)],
        [_reset([MATRIX, [0.5, -1.0, 2.0]], {}, layouts=["transposed", "strided"], scale=1e-7),
         _loop(layouts, 3)],
    ]


def skipping_runs():
    """A parameter left out of the first update (its step count must not advance), then in the
    loss: its first update is then a first step."""
    terms = [_term(1.0, -1.0, 0.5), _term(0.5, 1.0)]
    return [[_reset([[1.0, -2.0], [0.5]], {"lr": 0.05}), ("backward", [terms[0], None]), ("step", None),
             ("backward", terms), ("step", None), _loop(terms, 3, clear="none")]]


def _step_problem(params, terms, hyper, **extra):
    return {"problem": {"params": [torch.tensor(p) for p in params], "hyper": hyper, "terms": terms,
                        **extra}}


# One backward pass and one step(): the README's example, tiny gradients with the defaults, a
# transposed parameter.
FIRST_STEP_BOUNDARIES = [
    _step_problem([[1.0, -2.0]], README_TERMS, {}),
    _step_problem([[1.0, -2.0, 0.5]], [_term(1.0, -1.0, 0.25, 0.0)], {}, scale=1e-7),
    _step_problem([MATRIX], [MATRIX_TERM], {"lr": 0.05}, layouts=["transposed"]),
]
# Weight decay: from a gradient of zeros; per group, 0.0 for one of them; with a large eps on a
# transposed parameter.
ZEROS = [{"c": 0.0, "d": torch.zeros(2, 2)}, {"c": 0.0, "d": torch.zeros(2)}]
DECAY_BOUNDARIES = [
    _step_problem([[[1.0, -2.0], [0.5, 0.0]]], ZEROS[:1], {"weight_decay": 0.5}),
    _step_problem([[[1.0, -2.0], [0.5, 0.0]], [0.5, -1.0]], ZEROS, {"lr": 0.01, "weight_decay": 0.125},
                  groups=[{"params": [0]}, {"params": [1], "weight_decay": 0.0}]),
    _step_problem([MATRIX], [MATRIX_TERM], {"lr": 0.05, "eps": 0.1, "weight_decay": 0.125},
                  layouts=["transposed"]),
]

# The invariants' first examples: a parameter without a gradient (and weight decay, which a
# missing gradient treated as zeros would apply); zero_grad(set_to_none=False) with a None
# gradient, then zero_grad().
SKIP_EXPLICIT = call_args([_reset([[1.0, -2.0], [0.5]], {"lr": 0.1, "weight_decay": 0.5}),
                           ("backward", [README_TERMS[0], None]), ("step", None), ("step", None)])
ZERO_GRAD_EXPLICIT = call_args([_reset([[1.0, -2.0], [0.5]], {"lr": 0.1}),
                                ("backward", [_term(0.0, -1.0, 1.0), None]), ("zero_grad", False),
                                ("zero_grad", None)])
