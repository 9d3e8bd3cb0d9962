"""Hypothesis strategies shared by exercise checks: small models, optimizers and batches.

Values are drawn in the trusted process and sent across as plain tensors; models are
described as plain data (:mod:`grader.specs`) so both sides build the same network.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader import specs

ACTIVATIONS = ("tanh", "relu", "sigmoid")


@st.composite
def architectures(draw, max_in=4, max_out=2, max_hidden=2, max_width=5):
    """``[["linear", 3, 4], ["tanh"], ["linear", 4, 1]]``: 0-2 hidden layers."""
    n_in, n_out = draw(st.integers(1, max_in)), draw(st.integers(1, max_out))
    hidden = draw(st.lists(st.tuples(st.integers(1, max_width), st.sampled_from(ACTIVATIONS)),
                           max_size=max_hidden))
    layers, width = [], n_in
    for size, activation in hidden:
        layers += [["linear", width, size], [activation]]
        width = size
    return layers + [["linear", width, n_out]]


def optimizers():
    """SGD (with and without momentum) and Adam, as plain-data specs."""
    return st.one_of(
        st.builds(lambda lr: {"name": "sgd", "lr": lr}, st.sampled_from([0.01, 0.1, 0.5])),
        st.builds(lambda lr, m: {"name": "sgd", "lr": lr, "momentum": m},
                  st.sampled_from([0.01, 0.1]), st.sampled_from([0.5, 0.9])),
        st.builds(lambda lr: {"name": "adam", "lr": lr}, st.sampled_from([0.001, 0.01, 0.1])),
    )


def random_tensors(seed: int, shapes, scale: float = 1.0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator) * scale for shape in shapes]


@st.composite
def training_setups(draw, n_batches=(1, 1), leftover_grads=False):
    """A model spec with initial parameters, an optimizer spec and ``n_batches`` (x, y) batches."""
    layers = draw(architectures())
    seed = draw(st.integers(0, 2**16))
    shapes = specs.parameter_shapes(layers)
    params = random_tensors(seed, shapes, scale=0.5)
    n_in, n_out = layers[0][1], layers[-1][2]
    count = draw(st.integers(*n_batches))
    sizes = [draw(st.integers(1, 6)) for _ in range(count)]
    data = random_tensors(seed + 1, [s for b in sizes for s in ((b, n_in), (b, n_out))])
    setup = {
        "layers": layers,
        "params": params,
        "optimizer": draw(optimizers()),
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
