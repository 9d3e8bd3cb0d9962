"""One run judged against the twin (:func:`judge`), a failing run cut down (:func:`minimize`),
and the hint that names the misconception (:func:`with_diagnosis`)."""

from __future__ import annotations

from grader.checks import CheckFailed
from grader.sandbox.client import ContractViolation, StudentError

from .compare import Diverged, Unreadable, compare_step, step_rows, student_failure, unreadable
from .hints import GENERATOR_HINT, GROUPS_HINT, LAYOUT_HINT, LONG_RUN_HINT, STUCK_HINT, TINY_HINT
from .runs import call_args
from .twin import diagnose, prefix, replay

MINIMIZE_CALLS = 40  # sandbox calls a failing run may spend on being cut down


def judge(sub, spec, actions):
    """Run ``actions`` in the sandbox and on the twin; the :class:`Diverged` at the first
    difference, or None if there is none."""
    try:
        pending = sub.start("run_actions", **call_args(actions))
        expected = replay(actions)  # computed while the submission runs
        reply = pending.result()
    except (StudentError, ContractViolation) as exc:
        return student_failure(exc, _reached(sub, actions), spec.hint, spec.none_hint)
    try:
        before = [p.detach() for p in actions[0][1]["params"]]
        for (origin, row), values in zip(step_rows(actions, reply), expected, strict=True):
            if spec.compare_values:
                compare_step(actions, origin, row, values, before, spec.hint)
            before = row["values"]
    except Diverged as failure:
        return failure
    except (Unreadable, TypeError, KeyError, IndexError, AttributeError, RuntimeError, ValueError):
        return unreadable(actions)
    return None


def _reached(sub, actions):
    """The run up to the action the student's code raised in (a loop cut after that iteration)."""
    reached = sub.call("run_progress")
    if not (isinstance(reached, list) and len(reached) == 2 and all(isinstance(v, int) for v in reached)
            and 0 <= reached[0] < len(actions)):
        return list(actions)
    index, iteration = reached
    in_loop = actions[index][0] == "loop" and 1 <= iteration <= actions[index][1]["count"]
    return prefix(actions, (index, iteration if in_loop else 0))


# ----------------------------------------------------------------------------- simplifications
def _setup_with(actions, **changes):
    setup = {k: v for k, v in {**actions[0][1], **changes}.items() if v is not None}
    return [("reset", setup)] + list(actions[1:])


def _without_param(actions, index):
    """The same run with parameter ``index`` removed (and actions left without parameters dropped)."""
    setup = actions[0][1]

    def keep(values):
        return [v for i, v in enumerate(values) if i != index]

    changes = {"params": keep(setup["params"])}
    if setup.get("layouts"):
        changes["layouts"] = keep(setup["layouts"])
    if setup.get("groups"):
        groups = [{**g, "params": [i - (i > index) for i in g["params"] if i != index]}
                  for g in setup["groups"]]
        changes["groups"] = [g for g in groups if g["params"]]
    out = _setup_with(actions, **changes)[:1]
    for kind, argument in actions[1:]:
        if kind in ("backward", "set_grads"):
            argument = keep(argument)
            if kind == "backward" and all(t is None for t in argument):
                continue
            if kind == "set_grads" and all(a == "keep" for a in argument):
                continue
        elif kind == "loop":
            argument = {**argument, "terms": keep(argument["terms"])}
            if all(t is None for t in argument["terms"]):
                continue
        out.append((kind, argument))
    return out


def _first_element_only(actions, index):
    """The same run with parameter ``index`` cut down to its first element."""
    def cut(t):
        return t.reshape(-1)[:1].clone()

    def cut_terms(terms):
        return [{**t, "d": cut(t["d"])} if i == index and t is not None else t
                for i, t in enumerate(terms)]

    setup = actions[0][1]
    changes = {"params": [cut(p) if i == index else p for i, p in enumerate(setup["params"])]}
    if setup.get("layouts"):
        changes["layouts"] = [lay if i != index else "contiguous" for i, lay in enumerate(setup["layouts"])]
    out = _setup_with(actions, **changes)[:1]
    for kind, argument in actions[1:]:
        if kind == "backward":
            argument = cut_terms(argument)
        elif kind == "loop":
            argument = {**argument, "terms": cut_terms(argument["terms"])}
        out.append((kind, argument))
    return out


def _with_default(actions, key):
    hyper = {k: v for k, v in actions[0][1]["hyper"].items() if k != key}
    return _setup_with(actions, hyper=hyper)


def _with_loop_count(actions, index, count):
    kind, argument = actions[index]
    return list(actions[:index]) + [(kind, {**argument, "count": count})] + list(actions[index + 1:])


class _Minimizer:
    """Greedy cuts, each kept if the run still fails in the same way, within a call budget."""

    def __init__(self, sub, spec, failure):
        self.sub, self.spec, self.failure, self.left = sub, spec, failure, MINIMIZE_CALLS
        self.essential = set()

    def attempt(self, candidate, name=None):
        """Keep ``candidate`` if it fails the same way; True if it did."""
        if self.left <= 0 or len(candidate) < 2:
            return False
        self.left -= 1
        result = judge(self.sub, self.spec, candidate)
        if result is not None and result.kind == self.failure.kind:
            self.failure = result
            return True
        if name is not None:
            self.essential.add(name)
        return False

    def drop_chunks(self):
        """Drop halves, then quarters ... then single actions (never the reset)."""
        size = max(1, (len(self.failure.actions) - 1) // 2)
        while size >= 1:
            start = 1
            while self.left > 0:
                actions = self.failure.actions
                end = min(start + size, len(actions) - 1)  # the last action is where it fails
                if end <= start:
                    break
                if not self.attempt(actions[:start] + actions[end:]):
                    start = end
            size //= 2

    def shorten_loops(self):
        """The fewest iterations of each loop that still fail (a binary search)."""
        for index in range(1, len(self.failure.actions)):
            if index >= len(self.failure.actions) or self.failure.actions[index][0] != "loop":
                continue
            low, high = 1, self.failure.actions[index][1]["count"]
            while low < high and self.left > 0:
                middle = (low + high) // 2
                if self.attempt(_with_loop_count(self.failure.actions, index, middle)):
                    high = self.failure.actions[index][1]["count"]
                else:
                    low = middle + 1
            if high > 10:
                self.essential.add("long")

    def simplify_setup(self):
        setup = self.failure.actions[0][1]
        if setup.get("scale") is not None:
            self.attempt(_setup_with(self.failure.actions, scale=None), "scale")
        if setup.get("groups"):
            self.attempt(_setup_with(self.failure.actions, groups=None), "groups")
        if self.failure.actions[0][1].get("layouts"):
            self.attempt(_setup_with(self.failure.actions, layouts=None), "layouts")
        if self.failure.stuck and not self.failure.actions[0][1].get("groups"):
            # A run that passes when Adam gets a list instead of a generator: it is used up.
            self.attempt(_setup_with(self.failure.actions, iterable="list"), "generator")
        for index in reversed(range(len(self.failure.actions[0][1]["params"]))):
            if len(self.failure.actions[0][1]["params"]) > 1:
                self.attempt(_without_param(self.failure.actions, index))
        for index in range(len(self.failure.actions[0][1]["params"])):
            if self.failure.actions[0][1]["params"][index].numel() > 1:
                self.attempt(_first_element_only(self.failure.actions, index))
        for key in list(self.failure.actions[0][1]["hyper"]):
            if key != "weight_decay":
                self.attempt(_with_default(self.failure.actions, key))


def minimize(sub, spec, failure):
    """A shorter, simpler run that fails in the same way, found greedily in at most
    ``MINIMIZE_CALLS`` sandbox calls: chunks of actions dropped (halves first), loops shortened,
    then tiny gradients, groups and layouts undone, parameters dropped or cut to one element,
    hyperparameters set back to their defaults, each change kept if the run still fails the
    same way. Hypothesis's own shrinking is switched off for the state machines: on these runs
    it needs hundreds of replays and still leaves redundant actions behind.
    """
    minimizer = _Minimizer(sub, spec, failure)
    minimizer.drop_chunks()
    minimizer.shorten_loops()
    minimizer.simplify_setup()
    result = minimizer.failure
    setup = result.actions[0][1]
    present = {"scale": setup.get("scale") is not None, "groups": bool(setup.get("groups")),
               "layouts": bool(setup.get("layouts")), "long": True,
               "generator": setup.get("iterable") != "list"}
    result.essential = tuple(name for name in ("generator", "layouts", "scale", "groups", "long")
                             if name in minimizer.essential and present[name])
    return result


ESSENTIAL_HINTS = {"generator": GENERATOR_HINT, "layouts": LAYOUT_HINT, "scale": TINY_HINT,
                   "groups": GROUPS_HINT, "long": LONG_RUN_HINT}


def _hint_for(failure):
    """A run that passes once Adam gets a list instead of a generator is about the used-up
    generator, one that passes once its parameters are contiguous is about layouts; a step that
    left a parameter unchanged is about what skipped it; otherwise the usual mistake the numbers
    match, else what the run cannot do without (tiny gradients, groups, a long run)."""
    if failure.kind != "params":
        return None
    layouts = failure.actions[0][1].get("layouts") or ()
    strided = failure.param is not None and failure.param < len(layouts) and (
        layouts[failure.param] != "contiguous")
    if "generator" in failure.essential:
        return GENERATOR_HINT
    if "layouts" in failure.essential or failure.stuck and strided:
        return LAYOUT_HINT
    if failure.stuck:  # the usual mistakes that also leave it (no weight decay ...) would be guesses
        return STUCK_HINT
    hint = diagnose(failure.actions, failure.observed) if failure.observed is not None else None
    return hint or next((ESSENTIAL_HINTS[name] for name in failure.essential), None)


def with_diagnosis(failure):
    """``failure`` with the hint that names its misconception, if one can be told (see _hint_for)."""
    hint = _hint_for(failure)
    if hint is None:
        return failure
    diagnosed = CheckFailed(failure.message, hint=hint, example=failure.example)
    diagnosed.expected, diagnosed.got = failure.expected, failure.got
    return diagnosed
