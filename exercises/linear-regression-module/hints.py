"""The feedback of linear-regression-module: one sentence per misconception (trusted side only)."""

from grader.i18n.text import N_

LEGACY_HINT = N_("`loss.data[0]` indexes a 0-dim tensor: since PyTorch 0.4 a loss is a scalar tensor, "
                 "so read its value with `loss.item()`. `Variable` is no longer needed, and "
                 "`size_average=False` is now `reduction='sum'`.")
LEGACY_ERRORS = {"invalid index of a 0-dim tensor": LEGACY_HINT}
AFFINE_HINT = N_("forward(x) must return `x @ weight.T + bias` for a batch x of shape (N, input_dim): "
                 "a single `nn.Linear(input_dim, output_dim)` does exactly that.")
PARAMETERS_HINT = N_("The model must own exactly two parameters, a weight of shape (output_dim, input_dim) "
                     "and a bias of shape (output_dim,), and nothing else: every nn.Parameter and every "
                     "submodule you assign in __init__ is registered, even if forward never uses it.")
FLOAT_HINT = N_("Append `loss.item()` (or `float(loss)`): `loss.data` and `loss` are 0-dim tensors, "
                "not Python floats, and `loss` even keeps the whole graph of its step alive.")
HISTORY_HINT = N_("fit must return the losses of this call only, one per epoch: build a new list in "
                  "each call, not one kept between calls (on the model, in a global or in a default "
                  "argument such as `losses=[]`).")
MEAN_HINT = N_("Your losses match the mean squared error: the tutorial's `size_average=False` means "
               "the summed error, `nn.MSELoss(reduction='sum')`, not the default mean.")
AFTER_HINT = N_("Your losses are the ones measured after each update: record the loss computed for "
                "the step, before optimizer.step() changes the parameters.")
ACCUMULATION_HINT = N_("Your run matches SGD whose gradients pile up: backward() adds to .grad, so "
                       "call optimizer.zero_grad() once per epoch.")
STALE_LR_HINT = N_("Your second call of fit on the same model trains with the learning rate of the "
                   "first call: create the optimizer in each call of fit, with the lr it is given "
                   "(an optimizer kept between calls keeps its old lr).")
FIT_HINT = N_("Each epoch makes one SGD step on the summed squared error of the whole (x, y): clear "
              "the gradients, compute the loss, record `loss.item()`, call backward() and step().")
CONVERGENCE_HINT = N_("300 epochs of SGD at lr 0.03 on the summed squared error fit y = 2x almost "
                      "exactly: check the reduction (a sum, not a mean) and that every epoch makes one step.")
WARNING_HINT = N_("Replace the legacy arguments: `nn.MSELoss(size_average=False)` is "
                  "`nn.MSELoss(reduction='sum')` today, and `Variable(...)` wrappers can simply be removed.")
OTHER_WARNING_HINT = N_("The warning names a legacy API: replace it by the current equivalent that the "
                        "warning suggests.")
