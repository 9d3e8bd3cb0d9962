"""The trusted twin of adam-from-scratch: replays a run of actions with torch.optim.Adam (and
with Adams that have the usual mistakes built in, to name the one a submission matches), and
renders actions as code a student can run."""

from __future__ import annotations

import math

import torch

from .hints import AMBIGUOUS, MISTAKES

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


