"""The feedback of adam-from-scratch: one sentence per misconception (trusted side only)."""

from grader.i18n.text import N_

BIAS_HINT = N_("Adam divides m by 1 - beta1**t and v by 1 - beta2**t, where t counts this "
               "parameter's own updates so far (1 at its first update, 2 at its second, ...): "
               "check that t really advances from one step() to the next.")
FROZEN_STEP_HINT = N_("Your parameters match an Adam whose step count t stays at 1: the first update "
                      "is right, but every later one is bias-corrected as if it were the first. The "
                      "incremented count must be stored back: with a Python int, "
                      "`step = state['step']; step += 1` only changes the local name `step`.")
STEP_AHEAD_HINT = N_("Your parameters match an Adam whose step count is one ahead. At the first "
                     "update of a parameter t must be 1, so that m_hat = m / (1 - beta1) and "
                     "v_hat = v / (1 - beta2).")
NO_CORRECTION_HINT = N_("Your parameters match Adam without bias correction. m and v start at zero, "
                        "so Adam divides them by 1 - beta1**t and 1 - beta2**t (t = this parameter's "
                        "step count, starting at 1); without it the first updates are several times "
                        "too large.")
M_ONLY_HINT = N_("Your parameters match an Adam that bias-corrects m but not v. Both need it: "
                 "m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t).")
BETA1_BOTH_HINT = N_("Your parameters match an Adam that uses beta1 in both bias corrections. "
                     "v is corrected with beta2: v_hat = v / (1 - beta2**t).")
EPS_SQRT_HINT = N_("Your parameters match an Adam that adds eps inside the square root. "
                   "torch.optim.Adam adds it after: denom = sqrt(v_hat) + eps.")
EPS_EARLY_HINT = N_("Your parameters match an Adam that adds eps to sqrt(v) before the bias "
                    "correction (the form of TensorFlow and of the paper's 'efficient' variant). "
                    "torch.optim.Adam adds eps last: denom = sqrt(v) / sqrt(1 - beta2**t) + eps.")
SHARED_STEP_HINT = N_("Your parameters match an Adam whose step count is shared by all parameters "
                      "and advances at every step() call. Each parameter needs its own count, which "
                      "advances only when that parameter is updated.")
NONE_AS_ZERO_HINT = N_("Your parameters match an Adam that treats a missing gradient as zeros. "
                       "torch.optim.Adam skips a parameter whose .grad is None: its value, its "
                       "moving averages and its step count stay as they are.")
MISSING_COUNTED_HINT = N_("Your parameters match an Adam that counts a step for a parameter whose "
                          ".grad is None (a step count shared by all parameters, or a missing gradient "
                          "treated as zeros). torch.optim.Adam skips such a parameter entirely, and each "
                          "parameter's own count advances only when that parameter is updated.")
GENERATOR_HINT = N_("After its first loop over the parameters, your optimizer no longer sees any of them. "
                    "`params` may be a generator, such as model.parameters(), which can be iterated "
                    "only once: store `list(params)` in __init__.")
SKIP_HINT = N_("A parameter whose .grad is None is skipped entirely (no update, and its step count "
               "does not advance), while a parameter whose .grad holds zeros takes a normal step.")
NONE_GRAD_ERROR_HINT = N_("Some parameters have no gradient (.grad is None) because they were not "
                          "part of the loss: skip them in step() (`if p.grad is None: continue`).")
DECOUPLED_HINT = N_("Your parameters match decoupled weight decay (AdamW, p *= 1 - lr * weight_decay). "
                    "torch.optim.Adam uses L2 regularisation: it adds weight_decay * p to the "
                    "gradient before updating m and v.")
NO_DECAY_HINT = N_("Your parameters match an Adam that ignores weight_decay. torch.optim.Adam adds "
                   "weight_decay * p to the gradient before updating m and v.")
DECAY_HINT = N_("torch.optim.Adam applies weight decay as L2 regularisation: grad = p.grad + "
                "weight_decay * p, computed out of place, and then m, v and the update use grad.")
GRAD_CHANGED_HINT = N_("step() must not modify .grad. Compute the decayed gradient out of place, "
                       "`grad = p.grad + weight_decay * p`, not with `p.grad.add_(...)`.")
LEAF_HINT = N_("Update the parameters in place under torch.no_grad() (`p.add_(...)`, `p.addcdiv_(...)`) "
               "or through p.data: they must stay the same leaf tensors that require grad.")
ZERO_GRAD_HINT = N_("zero_grad() sets every .grad to None by default; zero_grad(set_to_none=False) "
                    "fills the existing gradients with zeros instead; a .grad that is None stays None "
                    "in both cases.")
ZERO_DIVISION_HINT = N_("1 - beta1**t is 0 when t is 0: count the current update before computing the "
                        "bias corrections, so that t is 1 at the first update of a parameter.")
IN_PLACE_LEAF_HINT = N_("A parameter that requires grad cannot be changed in place while autograd "
                        "records: update it under `with torch.no_grad():` (or decorate step() with "
                        "@torch.no_grad()).")
GROUPS_HINT = N_("Your parameters match an Adam that uses the lr, betas, eps and weight_decay passed to "
                 "Adam(...) for every parameter group. The values a group's dict gives override them for "
                 "the parameters of that group; only the values it leaves out come from Adam(...).")
LATE_HINT = N_("Your parameters match an Adam that stops the bias correction after 10 updates. "
               "1 - beta2**t is far from 1 for many more steps (0.01 at t = 10 with beta2 = 0.999): "
               "divide by 1 - beta1**t and 1 - beta2**t at every step.")
LONG_RUN_HINT = N_("Your parameters match torch.optim.Adam for the first updates of a parameter, and drift "
                   "away after about ten: check everything that depends on the step count t, which "
                   "keeps growing, at every step.")
LAYOUT_HINT = N_("Your Adam is right when every parameter is contiguous, but not for a transposed or "
                 "strided parameter (such as a weight created with .t()). For such a tensor, "
                 "p.reshape(-1), p.flatten() and p.contiguous() return a copy, so updating them in place "
                 "leaves p unchanged: update p itself (p.addcdiv_(...), p.copy_(...)).")
TINY_HINT = N_("Your Adam goes wrong when the gradients are tiny (around 1e-7), which is where eps "
               "decides the size of a step: the denominator is exactly sqrt(v_hat) + eps, with "
               "v_hat = v / (1 - beta2**t).")
STUCK_HINT = N_("Your step() left the parameter exactly as it was, although its .grad was not None. "
                "Every parameter that has a gradient takes a step, even when the gradient is zero or "
                "tiny (the weight decay and the moving averages still move it): check that nothing "
                "skips it, that step() still sees it (a generator is used up after one pass), and that "
                "the update reaches p itself (in place, under torch.no_grad()).")
SKIPPED_HINT = N_("A parameter whose .grad is None when step() runs must be left exactly as it was: "
                  "skip it (`if p.grad is None: continue`) before touching its value, its moving "
                  "averages or its step count, and leave its .grad None.")
FIRST_STEP_HINT = N_("At the first step, m = (1 - beta1) * g and v = (1 - beta2) * g**2, the bias "
                     "correction divides them by 1 - beta1 and 1 - beta2, and the update is "
                     "lr * m_hat / (sqrt(v_hat) + eps): compare each line with this.")

# Mistakes the diagnosis replays, in the order they are tried (first match wins). A used-up
# generator is told apart by a run with a list instead (see trial.minimize).
MISTAKES = (
    ("frozen_step", FROZEN_STEP_HINT),
    ("shared_step", SHARED_STEP_HINT),
    ("none_as_zero", NONE_AS_ZERO_HINT),
    ("step_ahead", STEP_AHEAD_HINT),
    ("no_correction", NO_CORRECTION_HINT),
    ("m_correction_only", M_ONLY_HINT),
    ("beta1_for_both", BETA1_BOTH_HINT),
    ("eps_inside_sqrt", EPS_SQRT_HINT),
    ("eps_before_correction", EPS_EARLY_HINT),
    ("decoupled_weight_decay", DECOUPLED_HINT),
    ("no_weight_decay", NO_DECAY_HINT),
    ("group_options_ignored", GROUPS_HINT),
    ("late_no_correction", LATE_HINT),
)
# Two mistakes that the shortest failing runs cannot tell apart get one hint.
AMBIGUOUS = {frozenset({"shared_step", "none_as_zero"}): MISSING_COUNTED_HINT}


