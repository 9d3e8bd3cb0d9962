"""Runs of adam-from-scratch written as Python code a student can paste after their class."""

from __future__ import annotations

from grader.i18n.text import T


def _tensor(value, layout="contiguous", requires_grad=False):
    """Code that builds ``value`` in ``layout`` (the layouts of :func:`grader.specs.make_leaf`)."""
    if layout == "transposed" and value.dim() == 2:
        text = f"torch.tensor({value.t().tolist()!r}).t()"
    elif layout == "strided" and value.dim() >= 1:
        text = f"torch.tensor({value.tolist()!r}).repeat_interleave(2, -1)[..., ::2]"
    else:
        return f"torch.tensor({value.tolist()!r}{', requires_grad=True' if requires_grad else ''})"
    return text + (".requires_grad_()" if requires_grad else "")


def _options(options):
    return "".join(f", {k}={tuple(v) if k == 'betas' else v!r}" for k, v in options.items()
                   if k != "params")


def reset_text(setup):
    layouts = setup.get("layouts") or ["contiguous"] * len(setup["params"])
    lines = [f"p{i} = {_tensor(v, layout, requires_grad=True)}"
             for i, (v, layout) in enumerate(zip(setup["params"], layouts))]
    groups = setup.get("groups")
    if groups:
        listed = ", ".join("{" + f"'params': [{', '.join(f'p{i}' for i in g['params'])}]"
                           + "".join(f", {k!r}: {tuple(v) if k == 'betas' else v!r}"
                                     for k, v in g.items() if k != "params") + "}"
                           for g in groups)
        lines.append(f"opt = Adam([{listed}]{_options(setup['hyper'])})")
    else:
        names = ", ".join(f"p{i}" for i in range(len(setup["params"])))
        # iter(): the grader passes an iterator that can be used once, like model.parameters().
        given = f"[{names}]" if setup.get("iterable") == "list" else f"iter([{names}])"
        lines.append(f"opt = Adam({given}{_options(setup['hyper'])})")
    return "\n".join(lines)


def backward_text(terms, scale=1.0):
    pieces = []
    for i, term in enumerate(terms):
        if term is None:
            continue
        linear = f"{_tensor(term['d'])} * p{i}"
        inner = linear if term["c"] == 0 else f"{term['c']!r} * p{i}**2 + {linear}"
        pieces.append(f"({inner}).sum()")
    loss = " + ".join(pieces)
    return f"({loss}).backward()" if scale == 1.0 else f"(({loss}) * {scale!r}).backward()"


def _clear_text(clear, count):
    if clear == "zero_grad":
        return "opt.zero_grad()"
    return "; ".join(f"p{i}.grad = None" for i in range(count))


def action_text(action, setup):
    kind, argument = action
    scale = float(setup.get("scale", 1.0))
    if kind == "reset":
        return reset_text(argument)
    if kind == "backward":
        return backward_text(argument, scale)
    if kind == "step":
        return "opt.step()"
    if kind == "zero_grad":
        return "opt.zero_grad()" if argument is None else f"opt.zero_grad(set_to_none={argument})"
    if kind == "set_grads":
        return "; ".join(f"p{i}.grad = None" if what == "none" else f"p{i}.grad = torch.zeros_like(p{i})"
                         for i, what in enumerate(argument) if what != "keep")
    if kind == "loop":
        body = [_clear_text(argument.get("clear", "zero_grad"), len(setup["params"])),
                backward_text(argument["terms"], scale), "opt.step()"]
        if argument["count"] == 1:
            return "\n".join(body)
        return f"for _ in range({argument['count']}):\n" + "\n".join("    " + line for line in body)
    raise ValueError(kind)


def steps_text(actions):
    setup = actions[0][1]
    return "\n".join(action_text(a, setup) for a in actions)


def after_text(kind, argument, origin, setup, initial=False):
    """"after `opt.step()`" (" in iteration 3 of the loop"): where a primitive action happened.
    ``initial``: the phrase that begins a sentence ("After ...")."""
    code = "opt.step()" if kind == "step" else action_text((kind, argument), setup).splitlines()[0]
    if initial:
        # These messages have always shown the phrase through str.capitalize(), which also
        # lowercases the code (`opt.zero_grad(set_to_none=false)`): kept so, byte for byte.
        code = code.lower()
        if origin[1]:
            return T("After `{code}` in iteration {iteration} of the loop", code=code, iteration=origin[1])
        return T("After `{code}`", code=code)
    if origin[1]:
        return T("after `{code}` in iteration {iteration} of the loop", code=code, iteration=origin[1])
    return T("after `{code}`", code=code)
