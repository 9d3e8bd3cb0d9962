"""The input space of linear-regression-module: dimensions, batches, learning rates and epochs.

Values come from a seeded generator (one drawn seed per problem), shapes and counts from
hypothesis. The learning rate of each fit is continuous and relative to the data: a fraction
``f`` (log-spread in [0.001, 0.9]) of ``1 / lambda_max(A.T @ A)``, where ``A = [x, 1]``, the
largest step for which full-batch gradient descent on the summed squared error still
converges. Every run therefore stays finite however many rows, columns and epochs it has.
"""

import math

import torch
from hypothesis import strategies as st

from grader.strategies import sizes

CLASSIC = {
    "x": torch.tensor([[1.0], [2.0], [3.0]]),
    "y": torch.tensor([[2.0], [4.0], [6.0]]),
    "x_new": torch.tensor([[4.0]]),
    "lr": 0.03,
}
MAX_ROWS = 64
X_SCALES = (1.0, 1.0, 1.0, 0.1, 5.0)  # x in [-1, 1] times this: some tiny, some large inputs
SEEDS = st.integers(0, 2**16)


def _uniform(generator, shape, low, high):
    return torch.rand(shape, generator=generator) * (high - low) + low


# Strategies are built once: hypothesis validates every new strategy object, which costs more
# than drawing from it.
DIMENSIONS = st.fixed_dictionaries({"input_dim": sizes(1, 8, small=3),
                                    "output_dim": st.one_of(st.just(1), sizes(1, 4, small=2))})
_ROWS = sizes(1, MAX_ROWS)
_X_SCALE = st.sampled_from(X_SCALES)
_FIT_COUNT = st.integers(1, 3)


def dimensions():
    """input_dim 1..8 and output_dim 1..4, mostly small; single-column outputs often."""
    return DIMENSIONS


@st.composite
def forward_problems(draw):
    """Dimensions, a weight and bias to load, and a batch x of 1 to 64 rows."""
    dims = draw(DIMENSIONS)
    n, i, o = draw(_ROWS), dims["input_dim"], dims["output_dim"]
    generator = torch.Generator().manual_seed(draw(SEEDS))
    scale = draw(_X_SCALE)
    return {**dims, "weight": _uniform(generator, (o, i), -2, 2), "bias": _uniform(generator, (o,), -2, 2),
            "x": _uniform(generator, (n, i), -1, 1) * scale}


def stable_lr(x, fraction):
    """``fraction`` of the largest learning rate for which gradient descent on the summed squared
    error of a linear model on ``x`` converges (``1 / lambda_max(A.T @ A)``, ``A = [x, 1]``),
    rounded to 4 significant digits."""
    a = torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    gram = (a[:, :, None] * a[:, None, :]).sum(0)  # a.T @ a, without a BLAS call (see reference.py)
    return float(f"{fraction / float(torch.linalg.eigvalsh(gram)[-1]):.4g}")


_FRACTIONS = st.floats(math.log10(1e-3), math.log10(0.9)).map(lambda e: 10 ** e)
# Most fits are short, some have up to 100 epochs; later calls on the same model are short.
_SHORT_EPOCHS = st.integers(1, 8)


def _epochs(draw, generator, first):
    """1 to 8 epochs, or, for about one first call in three, 9 to 100. The long ones are chosen and
    spread by the problem's generator: hypothesis favours the simplest choice, which would make
    nearly every first call long (or none)."""
    if first and float(torch.rand((), generator=generator)) < 0.3:
        return int(torch.randint(9, 101, (1,), generator=generator))
    return draw(_SHORT_EPOCHS)


def _data(draw, dims, generator):
    """A batch (x, y) of 1 to 64 rows for these dimensions."""
    n, scale = draw(_ROWS), draw(_X_SCALE)
    return (_uniform(generator, (n, dims["input_dim"]), -1, 1) * scale,
            _uniform(generator, (n, dims["output_dim"]), -2, 2))


@st.composite
def fit_problems(draw, max_fits=3):
    """A weight and bias to start from and 1 to ``max_fits`` calls of fit on that model, each
    with its own learning rate and number of epochs; a later call uses the same (x, y) or new rows."""
    dims = draw(DIMENSIONS)
    generator = torch.Generator().manual_seed(draw(SEEDS))
    i, o = dims["input_dim"], dims["output_dim"]
    problem = {**dims, "weight": _uniform(generator, (o, i), -1, 1), "bias": _uniform(generator, (o,), -1, 1)}
    fits, data = [], _data(draw, dims, generator)
    for index in range(draw(_FIT_COUNT if max_fits == 3 else st.integers(1, max_fits))):
        if index and draw(st.booleans()):
            data = _data(draw, dims, generator)
        x, y = data
        fits.append({"x": x, "y": y, "lr": stable_lr(x, draw(_FRACTIONS)),
                     "epochs": _epochs(draw, generator, first=index == 0)})
    problem["fits"] = fits
    return problem


@st.composite
def fit_types_problems(draw):
    """One short fit on a model with the student's own initialisation (run_fit_types): the long
    ones are watched in the calls of fit_matches_reference."""
    dims = draw(DIMENSIONS)
    generator = torch.Generator().manual_seed(draw(SEEDS))
    x, y = _data(draw, dims, generator)
    return {**dims, "x": x, "y": y, "lr": stable_lr(x, draw(_FRACTIONS)), "epochs": _epochs(draw, generator, False)}


def boundary_fits():
    """The boundaries the statement names: one row and one epoch (a single-column output); the
    same model fitted twice with two learning rates; 64 rows of large inputs (x up to 5 in
    magnitude, losses in the thousands) with several inputs and outputs."""
    w, b = torch.tensor([[0.5]]), torch.tensor([-0.25])
    generator = torch.Generator().manual_seed(7)
    big_x = _uniform(generator, (MAX_ROWS, 4), -5, 5)
    big = {"input_dim": 4, "output_dim": 2, "weight": _uniform(generator, (2, 4), -1, 1),
           "bias": _uniform(generator, (2,), -1, 1),
           "fits": [{"x": big_x, "y": _uniform(generator, (MAX_ROWS, 2), -2, 2),
                     "lr": stable_lr(big_x, 0.5), "epochs": 4}]}
    classic = {"x": CLASSIC["x"], "y": CLASSIC["y"]}
    return [
        {"input_dim": 1, "output_dim": 1, "weight": w, "bias": b,
         "fits": [{"x": torch.tensor([[1.5]]), "y": torch.tensor([[-1.0]]), "lr": 0.05, "epochs": 1}]},
        {"input_dim": 1, "output_dim": 1, "weight": w, "bias": b,
         "fits": [{**classic, "lr": 0.01, "epochs": 3}, {**classic, "lr": 0.03, "epochs": 3}]},
        big,
    ]
