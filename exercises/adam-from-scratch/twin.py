"""The trusted twin of adam-from-scratch: replays a run with torch.optim.Adam, or with an Adam
that has one of the usual mistakes built in (to name the one a submission matches).

A run is a list of actions, the first one ``("reset", setup)``. ``setup`` holds the starting
values of the parameters (``"params"``), the keyword arguments of ``Adam(...)``
(``"hyper"``), and optionally parameter groups (``"groups"``: ``[{"params": [indices], "lr":
...}, ...]``), memory layouts (``"layouts"``) and a loss scale (``"scale"``, tiny for the runs
where ``eps`` matters). The other actions are ``("backward", terms)``, ``("step", None)``,
``("zero_grad", None | True | False)``, ``("set_grads", ["keep" | "none" | "zero", ...])`` and
``("loop", {"terms", "count", "clear"})``: ``count`` times clear the gradients
(``opt.zero_grad()``, or ``p.grad = None`` for every parameter), backward, step. The driver
unrolls loops exactly as :func:`unrolled` does, and reports after each primitive action.
"""

from __future__ import annotations

import torch

from .hints import AMBIGUOUS, MISTAKES

RTOL, ATOL = 1e-4, 1e-5
# Float32 rounding adds up over a long run: each update of size about lr may carry a relative
# error of 1e-4 (a step count kept as a float32 tensor gives ~1e-5), so a parameter's absolute
# tolerance grows by DRIFT times the sum of the learning rates of its updates so far.
DRIFT = 1e-4
DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
OPTIONS = tuple(DEFAULTS)


def adam_kwargs(options):
    """The Adam options among ``options`` (betas as a tuple), as torch wants them."""
    kwargs = {k: options[k] for k in OPTIONS if k in options}
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return kwargs


def optimizer_arguments(params, setup):
    """What ``Adam(...)`` receives for ``setup``: the parameters (or groups) and the keywords."""
    kwargs = adam_kwargs(setup["hyper"])
    groups = setup.get("groups")
    if not groups:
        return params, kwargs
    return [{"params": [params[int(i)] for i in group["params"]], **adam_kwargs(group)}
            for group in groups], kwargs


def gradient_of(p, term, scale=1.0):
    """The gradient autograd gives the driver's loss, ``scale * (c * p**2 + d * p).sum()``, in
    closed form and with the same float32 operations in the same order (bitwise equal, checked
    over thousands of random terms and scales): four times cheaper than a backward()."""
    if scale == 1.0:
        return term["c"] * (2 * p) + term["d"]
    s = torch.tensor(scale, dtype=torch.float32)
    return (s * term["c"]) * (2 * p) + s * term["d"]


def unrolled(actions):
    """``(origin, kind, argument)`` for every primitive action after the reset, loops unrolled.

    ``origin`` is ``(index, iteration)``: the index of the action in ``actions`` and, inside a
    loop, the iteration (from 1; 0 outside loops).
    """
    count = len(actions[0][1]["params"])
    out = []
    for index, (kind, argument) in enumerate(actions[1:], start=1):
        if kind != "loop":
            out.append(((index, 0), kind, argument))
            continue
        clear = (("zero_grad", None) if argument.get("clear", "zero_grad") == "zero_grad"
                 else ("set_grads", ["none"] * count))
        for iteration in range(1, int(argument["count"]) + 1):
            out += [((index, iteration), *clear), ((index, iteration), "backward", argument["terms"]),
                    ((index, iteration), "step", None)]
    return out


def prefix(actions, origin):
    """The run up to and including the primitive at ``origin`` (a loop cut after that iteration)."""
    index, iteration = origin
    if iteration == 0:
        return list(actions[:index + 1])
    kind, argument = actions[index]
    return list(actions[:index]) + [(kind, {**argument, "count": iteration})]


class SimAdam:
    """Adam written out like torch.optim.Adam (single-tensor path), or with one usual mistake."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, bug=None):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        params = list(params)
        if params and not isinstance(params[0], dict):
            params = [{"params": params}]
        if bug == "group_options_ignored":
            self.groups = [{**defaults, "params": list(g["params"])} for g in params]
        else:
            self.groups = [{**defaults, **adam_kwargs(g), "params": list(g["params"])} for g in params]
        self.bug = bug
        self.state = {}
        self.calls = 0

    @torch.no_grad()
    def step(self):
        self.calls += 1
        for group in self.groups:
            for p in group["params"]:
                self._update(p, group)

    def _update(self, p, group):
        (beta1, beta2), bug, lr, eps, wd = group["betas"], self.bug, group["lr"], group["eps"], group["weight_decay"]
        grad = p.grad
        if grad is None:
            if bug != "none_as_zero":
                return
            grad = torch.zeros_like(p)
        state = self.state.setdefault(p, {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
        state["step"] += 1
        t = {"frozen_step": 1, "shared_step": self.calls,
             "step_ahead": state["step"] + 1}.get(bug, state["step"])
        if wd != 0:
            if bug == "decoupled_weight_decay":
                p.mul_(1 - lr * wd)
            elif bug != "no_weight_decay":
                grad = grad.add(p, alpha=wd)
        state["m"].lerp_(grad, 1 - beta1)
        state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        correction1 = 1 - beta1 ** t
        correction2 = 1 - (beta1 if bug == "beta1_for_both" else beta2) ** t
        if bug == "no_correction" or bug == "late_no_correction" and t > 10:
            correction1 = correction2 = 1.0
        elif bug == "m_correction_only":
            correction2 = 1.0
        m, v = state["m"], state["v"]
        if bug == "eps_inside_sqrt":
            denom = (v / correction2 + eps).sqrt()
        elif bug == "eps_before_correction":
            denom = (v.sqrt() + eps) / correction2 ** 0.5
        else:
            denom = (v.sqrt() / correction2 ** 0.5).add_(eps)
        p.addcdiv_(m, denom, value=-lr / correction1)

    def zero_grad(self, set_to_none=True):
        for group in self.groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.zero_()


def torch_adam(params, setup):
    """torch.optim.Adam on the twin's parameters; its fused kernel, which computes the same
    update as the default path (within 2% of the tolerance over 30 steps) in half the time."""
    groups, kwargs = optimizer_arguments(params, setup)
    return torch.optim.Adam(groups, **kwargs, fused=True)


class Trainer:
    """The trusted twin of the sandbox session: same parameters and losses, a given optimizer."""

    def __init__(self, setup, make_optimizer=torch_adam):
        self.params = [v.detach().clone().requires_grad_() for v in setup["params"]]
        self.scale = float(setup.get("scale", 1.0))
        self.optimizer = make_optimizer(self.params, setup)

    def apply(self, kind, argument):
        if kind == "backward":
            with torch.no_grad():
                for p, term in zip(self.params, argument):
                    if term is not None:  # accumulated into .grad, as backward() does
                        g = gradient_of(p, term, self.scale)
                        p.grad = g if p.grad is None else p.grad.add_(g)
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
        else:
            raise ValueError(f"unknown action {kind!r}")

    def values(self):
        return [p.detach().clone() for p in self.params]


class Expected:
    """The twin's parameters after one step(), with each one's tolerance."""

    def __init__(self, values, slack):
        self.values, self.slack = values, slack


def learning_rates(setup):
    """The learning rate of each parameter: its group's, else the one given to Adam(...)."""
    lrs = [float(setup["hyper"].get("lr", DEFAULTS["lr"]))] * len(setup["params"])
    for group in setup.get("groups") or ():
        for index in group["params"]:
            lrs[int(index)] = float(group.get("lr", lrs[int(index)]))
    return lrs


def replay(actions, make_optimizer=torch_adam):
    """Run ``actions`` on a fresh twin: an :class:`Expected` after every step(), in order."""
    setup = actions[0][1]
    trainer, lrs = Trainer(setup, make_optimizer), learning_rates(setup)
    travelled = [0.0] * len(lrs)  # the sum of the learning rates of each parameter's updates
    after_steps = []
    for _, kind, argument in unrolled(actions):
        if kind == "step":
            travelled = [t + lr * (p.grad is not None) for t, lr, p in zip(travelled, lrs, trainer.params)]
        trainer.apply(kind, argument)
        if kind == "step":
            after_steps.append(Expected(trainer.values(), [DRIFT * t for t in travelled]))
    return after_steps


def close(got, expected, slack=0.0):
    return (tuple(got.shape) == tuple(expected.shape)
            and bool(torch.allclose(got.double(), expected.double(), rtol=RTOL, atol=ATOL + slack)))


def diagnose(actions, observed):
    """The hint of the usual mistake whose replay ends with the parameters ``observed`` (the
    student's after the last step of ``actions``), if any."""
    matches = []
    for bug, _ in MISTAKES:
        def make(params, setup, bug=bug):
            groups, kwargs = optimizer_arguments(params, setup)
            return SimAdam(groups, **{**DEFAULTS, **kwargs}, bug=bug)
        try:
            expected = replay(actions, make)
        except (RuntimeError, ValueError, ZeroDivisionError):
            continue
        last = expected[-1] if expected else None
        if last is not None and all(close(g, e, slack) for g, e, slack in zip(observed, last.values, last.slack)):
            matches.append(bug)
    if not matches:
        return None
    return AMBIGUOUS.get(frozenset(matches[:2]), dict(MISTAKES)[matches[0]])
