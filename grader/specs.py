"""Models and optimizers described as plain data.

The trusted side draws a spec (layer sizes, optimizer settings, initial parameter values)
and sends it across the trust boundary; the exercise driver builds the model inside the
sandbox with :func:`build_model`, and the trusted side builds the very same model for its
reference computation. Initial values are sent explicitly, never re-drawn from a seed, so
both sides start from identical parameters whatever the student does to the RNG.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}
OPTIMIZERS = ("sgd", "adam")


def build_model(layers: list[list[Any]]) -> nn.Sequential:
    """``[["linear", 3, 4], ["tanh"], ["linear", 4, 1]]`` -> an ``nn.Sequential``."""
    modules: list[nn.Module] = []
    for layer in layers:
        kind = layer[0]
        if kind == "linear":
            modules.append(nn.Linear(int(layer[1]), int(layer[2])))
        elif kind in ACTIVATIONS:
            modules.append(ACTIVATIONS[kind]())
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
    return nn.Sequential(*modules)


def load_parameters(model: nn.Module, values: Iterable[torch.Tensor]) -> None:
    """Copy ``values`` into the model's parameters, in ``parameters()`` order."""
    params = list(model.parameters())
    values = list(values)
    if len(params) != len(values):
        raise ValueError(f"expected {len(params)} parameter tensors, got {len(values)}")
    with torch.no_grad():
        for p, v in zip(params, values):
            p.copy_(v.reshape(p.shape))


def set_gradients(model: nn.Module, grads: Iterable[torch.Tensor | None]) -> None:
    for p, g in zip(model.parameters(), grads):
        p.grad = None if g is None else g.detach().reshape(p.shape).clone()


SGD_OPTIONS = ("momentum", "dampening", "weight_decay", "nesterov", "maximize")
ADAM_OPTIONS = ("betas", "eps", "weight_decay", "amsgrad", "maximize")


def build_optimizer(spec: dict[str, Any], params: Iterable[torch.Tensor]) -> torch.optim.Optimizer:
    """An optimizer from plain data.

    ``{"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}``,
    ``{"name": "adam", "lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "amsgrad": False}``;
    every option torch accepts for SGD (momentum, dampening, weight_decay, nesterov,
    maximize) or Adam (betas, eps, weight_decay, amsgrad, maximize) may be given. With
    ``"groups": [{"params": [0, 2], "lr": 0.5, ...}, ...]`` the parameters (by index, in
    ``params`` order) are split into parameter groups, each overriding options of its own;
    parameters no group names are not given to the optimizer at all.
    """
    name = spec["name"]
    if name == "sgd":
        cls, allowed = torch.optim.SGD, SGD_OPTIONS
    elif name == "adam":
        cls, allowed = torch.optim.Adam, ADAM_OPTIONS
    else:
        raise ValueError(f"unknown optimizer {name!r}")

    def options(source: dict[str, Any]) -> dict[str, Any]:
        chosen = {k: source[k] for k in allowed if k in source}
        if "betas" in chosen:
            chosen["betas"] = tuple(float(b) for b in chosen["betas"])
        if "lr" in source:
            chosen["lr"] = float(source["lr"])
        return chosen

    params = list(params)
    groups = spec.get("groups")
    if groups is None:
        return cls(params, **options(spec))
    param_groups = [{"params": [params[int(i)] for i in group["params"]], **options(group)}
                    for group in groups]
    return cls(param_groups, **options(spec))


def optimizer_parameters(spec: dict[str, Any], count: int) -> list[int]:
    """Indices of the parameters an optimizer spec gives to the optimizer."""
    if spec.get("groups") is None:
        return list(range(count))
    return sorted(int(i) for group in spec["groups"] for i in group["params"])


def make_leaf(values: torch.Tensor, layout: str = "contiguous") -> torch.Tensor:
    """A leaf tensor with ``requires_grad`` holding ``values``, in the memory layout asked for.

    ``"transposed"``: a 2-D leaf that is the transpose of a contiguous tensor (``.t()``);
    ``"strided"``: every other element of a buffer twice as long (non-contiguous, any rank);
    ``"contiguous"``: a plain copy. Student code must treat all three alike.
    """
    values = values.detach()
    if layout == "transposed" and values.dim() == 2:
        leaf = values.t().contiguous().t()
    elif layout == "strided" and values.dim() >= 1:
        buffer = torch.zeros(*values.shape[:-1], values.shape[-1] * 2, dtype=values.dtype)
        buffer[..., ::2] = values
        leaf = buffer[..., ::2]
    else:
        leaf = values.clone()
    return leaf.requires_grad_(values.is_floating_point())


def model_from_spec(spec: dict[str, Any]) -> nn.Sequential:
    """A model with ``spec["layers"]`` and ``spec["params"]`` loaded (and ``spec["grads"]`` if any)."""
    model = build_model(spec["layers"])
    load_parameters(model, spec["params"])
    if spec.get("grads") is not None:
        set_gradients(model, spec["grads"])
    return model


_FUNCTIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def functional_forward(layers: list[list[Any]], params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """What ``build_model(layers)`` computes with these parameters, without building modules
    (``nn.Linear``'s own initialisation costs more than a whole small forward)."""
    index = 0
    for layer in layers:
        if layer[0] == "linear":
            x = torch.nn.functional.linear(x, params[index], params[index + 1])
            index += 2
        else:
            x = _FUNCTIONS[layer[0]](x)
    return x


def parameter_shapes(layers: list[list[Any]]) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    for layer in layers:
        if layer[0] == "linear":
            shapes += [(int(layer[2]), int(layer[1])), (int(layer[2]),)]
    return shapes


def exercise_torch() -> None:
    """One forward, backward and step of each optimizer kind, on a tiny model.

    The first ``optimizer.step()`` in a process imports ~800 modules (torch._dynamo, ~1 s).
    The fork server does this before forking, so children never pay it; the grading process
    does it while the fork server is still starting, so its first reference does not either.
    """
    model = build_model([["linear", 3, 4], ["tanh"], ["relu"], ["sigmoid"], ["linear", 4, 1]])
    for optimizer in (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                      torch.optim.Adam(model.parameters(), lr=0.1)):
        loss = torch.nn.functional.mse_loss(model(torch.ones(2, 3)), torch.zeros(2, 1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x = torch.ones(3, requires_grad=True)
    torch.autograd.grad((x * x).sum(), x)
