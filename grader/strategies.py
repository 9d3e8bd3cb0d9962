"""Hypothesis strategies shared by exercise checks: small models, optimizers and batches.

Values are drawn in the trusted process and sent across as plain tensors; models are
described as plain data (:mod:`grader.specs`) so both sides build the same network.

The strategy factories are cached: a composite that calls ``optimizers(groups_of=n)`` on
every draw then reuses one strategy instead of building (and validating, and describing
the lambdas of) a new one each time, which cost ~20 ms per drawn example.
"""

from __future__ import annotations

import functools
import math

import torch
from hypothesis import strategies as st

from grader import specs

ACTIVATIONS = ("tanh", "relu", "sigmoid")


@functools.lru_cache(maxsize=None)
def architectures(max_in=4, max_out=2, max_hidden=2, max_width=5):
    """``[["linear", 3, 4], ["tanh"], ["linear", 4, 1]]``: 0-2 hidden layers."""
    hidden = st.lists(st.tuples(st.integers(1, max_width), st.sampled_from(ACTIVATIONS)),
                      max_size=max_hidden)

    def layers_of(n_in, n_out, hidden_layers):
        layers, width = [], n_in
        for size, activation in hidden_layers:
            layers += [["linear", width, size], [activation]]
            width = size
        return layers + [["linear", width, n_out]]

    return st.builds(layers_of, st.integers(1, max_in), st.integers(1, max_out), hidden)


@functools.lru_cache(maxsize=None)
def sizes(low: int = 1, high: int = 64, small: int = 6):
    """Counts (rows, steps, micro-batches ...) over the whole range ``low..high``, most of them
    small (quick to run and to shrink) and some large."""
    if high <= small:
        return st.integers(low, high)
    return st.one_of(st.integers(low, min(small, high)), st.integers(low, high))


@functools.lru_cache(maxsize=None)
def learning_rates(low: float = 1e-3, high: float = 0.5):
    """Learning rates from a continuous range, spread over its orders of magnitude."""
    return st.floats(math.log10(low), math.log10(high)).map(_power_of_ten)


def _power_of_ten(exponent: float) -> float:
    return float(f"{10 ** exponent:.4g}")


_BOOL = st.booleans()
_MOMENTUM = st.sampled_from([0.5, 0.9, 0.99])
_DAMPENING = st.sampled_from([0.1, 0.5])
_DECAY = st.sampled_from([1e-4, 0.01, 0.1])
_ONE_IN_FIVE = st.integers(0, 4)
_ONE_IN_FOUR = st.integers(0, 3)
_BETA1 = st.sampled_from([0.0, 0.5, 0.8, 0.9])
_BETA2 = st.sampled_from([0.9, 0.99, 0.999])
_EPS = st.sampled_from([1e-10, 1e-8, 1e-6, 1e-3])
_LR_FACTOR = st.sampled_from([0.1, 2.0, 10.0])
_GROUP_DECAY = st.sampled_from([0.0, 0.05])


@functools.lru_cache(maxsize=None)
def sgd_configs(lr=None):
    """Every SGD configuration: plain, momentum (with dampening), Nesterov, weight decay, maximize."""
    lr = lr or learning_rates(1e-3, 0.3)

    @st.composite
    def draw_config(draw):
        config = {"name": "sgd", "lr": draw(lr)}
        if draw(_BOOL):
            config["momentum"] = draw(_MOMENTUM)
            if draw(_BOOL):
                config["nesterov"] = True
            elif draw(_BOOL):
                config["dampening"] = draw(_DAMPENING)
        if draw(_BOOL):
            config["weight_decay"] = draw(_DECAY)
        if draw(_ONE_IN_FIVE) == 0:
            config["maximize"] = True
        return config

    return draw_config()


@functools.lru_cache(maxsize=None)
def adam_configs(lr=None):
    """Adam with default or drawn betas, eps (down to 1e-10), weight decay, amsgrad, maximize."""
    lr = lr or learning_rates(1e-4, 0.1)

    @st.composite
    def draw_config(draw):
        config = {"name": "adam", "lr": draw(lr)}
        if draw(_BOOL):
            config["betas"] = [draw(_BETA1), draw(_BETA2)]
        if draw(_BOOL):
            config["eps"] = draw(_EPS)
        if draw(_BOOL):
            config["weight_decay"] = draw(_DECAY)
        if draw(_ONE_IN_FOUR) == 0:
            config["amsgrad"] = True
        if draw(_ONE_IN_FIVE) == 0:
            config["maximize"] = True
        return config

    return draw_config()


@functools.lru_cache(maxsize=None)
def optimizers(groups_of: int | None = None):
    """Any SGD or Adam configuration (see :func:`sgd_configs`, :func:`adam_configs`).

    With ``groups_of=n`` (the model's parameter count) some configurations split the
    parameters into two groups with their own learning rate and weight decay.
    """
    base = st.one_of(sgd_configs(), adam_configs())
    if not groups_of or groups_of < 2:
        return base

    cuts = st.integers(1, groups_of - 1)

    @st.composite
    def with_groups(draw):
        config = draw(base)
        if draw(_BOOL):
            cut = draw(cuts)
            second = {"params": list(range(cut, groups_of)),
                      "lr": float(config["lr"]) * draw(_LR_FACTOR)}
            if draw(_BOOL):
                second["weight_decay"] = draw(_GROUP_DECAY)
            config["groups"] = [{"params": list(range(cut))}, second]
        return config

    return with_groups()


def layouts():
    """Memory layouts of leaf parameters: contiguous (mostly), transposed, strided."""
    return st.sampled_from(["contiguous", "contiguous", "transposed", "strided"])


def tiny_gradients(shape, generator: torch.Generator, scale_exponent: int = -7) -> torch.Tensor:
    """Gradients around ``10**scale_exponent``: where Adam's ``eps`` decides the step."""
    return torch.randn(shape, generator=generator) * 10.0 ** scale_exponent


def random_tensors(seed: int, shapes, scale: float = 1.0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator) * scale for shape in shapes]


@st.composite
def training_setups(draw, n_batches=(1, 1), leftover_grads=False, max_rows=64):
    """A model spec with initial parameters, an optimizer spec and ``n_batches`` (x, y) batches.

    Batches have 1..``max_rows`` rows (mostly few); the optimizer is any configuration
    :func:`optimizers` draws, parameter groups included.
    """
    layers = draw(architectures())
    seed = draw(st.integers(0, 2**16))
    shapes = specs.parameter_shapes(layers)
    params = random_tensors(seed, shapes, scale=0.5)
    n_in, n_out = layers[0][1], layers[-1][2]
    count = draw(st.integers(*n_batches))
    row_counts = [draw(sizes(1, max_rows)) for _ in range(count)]
    data = random_tensors(seed + 1, [s for b in row_counts for s in ((b, n_in), (b, n_out))])
    setup = {
        "layers": layers,
        "params": params,
        "optimizer": draw(optimizers(groups_of=len(shapes))),
        "batches": [[data[2 * i], data[2 * i + 1]] for i in range(count)],
    }
    if leftover_grads:
        setup["grads"] = random_tensors(seed + 2, shapes)
    return setup


def reference_model(setup: dict) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = specs.model_from_spec(setup)
    return model, specs.build_optimizer(setup["optimizer"], model.parameters())


def mse_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x, y) -> float:
    """The correct step: clear, forward, MSE (mean), backward, step; returns the loss before."""
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
