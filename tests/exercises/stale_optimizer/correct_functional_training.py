# expect-lost:
"""Correct: trains a dict of cloned tensors through torch.func.functional_call, without any optimizer, and
loads the result into a fresh model at the end."""
import torch
import torch.nn.functional as F
from torch.func import functional_call


def train_from_checkpoint(make_model, state_dict, x, y, lr, steps):
    model = make_model()
    params = {name: state_dict[name].detach().clone().requires_grad_() for name, _ in model.named_parameters()}
    for _ in range(steps):
        loss = F.mse_loss(functional_call(model, params, (x,)), y)
        grads = torch.autograd.grad(loss, list(params.values()))
        with torch.no_grad():
            params = {name: (p - lr * g).requires_grad_() for (name, p), g in zip(params.items(), grads)}
    with torch.no_grad():
        model.load_state_dict({name: p.detach() for name, p in params.items()})
    return model
