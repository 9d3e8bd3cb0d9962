# expect-lost: follows_gradient_descent
"""Buggy (second call): fitting the same x and y again "warm-starts" from the previous result instead of w0 and b0."""
import torch

_previous = {"x": None, "y": None, "w": None, "b": None}


def fit(x, y, w0, b0, lr, steps):
    if x is _previous["x"] and y is _previous["y"]:
        start_w, start_b = _previous["w"], _previous["b"]  # "no need to start over on the same data"
    else:
        start_w, start_b = w0, b0
    w = start_w.detach().clone().requires_grad_()
    b = start_b.detach().clone().requires_grad_()
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
    _previous.update(x=x, y=y, w=w.detach().clone(), b=b.detach().clone())
    return w, b
