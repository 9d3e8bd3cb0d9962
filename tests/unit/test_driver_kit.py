"""The helpers exercise drivers use inside the sandbox, run here in process."""

from __future__ import annotations

import warnings

import pytest
import torch

from grader.sandbox import driver_kit


def test_recorded_warnings_come_back_as_plain_data():
    with driver_kit.recorded_warnings() as caught:
        warnings.warn("size_average is deprecated", UserWarning)
        torch.nn.MSELoss(size_average=False)
    assert caught[0] == {"category": "UserWarning", "message": "size_average is deprecated"}
    assert any("deprecated" in w["message"] for w in caught[1:])


def test_tracked_optimizers_sees_the_optimizers_a_student_creates_and_restores_init():
    original = torch.optim.Optimizer.__init__
    w = torch.zeros(2, requires_grad=True)
    with driver_kit.tracked_optimizers() as created:
        sgd = torch.optim.SGD([w], lr=0.1)
        adam = torch.optim.Adam([w])
    assert created == [sgd, adam]
    assert driver_kit.optimizer_tensors(sgd)[0] is w
    assert torch.optim.Optimizer.__init__ is original


def test_tensor_report_leaves_out_the_gradient_when_asked():
    w = torch.ones(2, requires_grad=True)
    (w * 3).sum().backward()
    assert driver_kit.tensor_report(w, "w").grad is not None
    assert driver_kit.tensor_report(w, "w", grad=False).grad is None


@pytest.mark.parametrize("value", [None, "1.0", [1.0], torch.ones(2)])
def test_as_float_turns_a_wrong_return_type_into_a_contract_violation(value):
    with pytest.raises(driver_kit.ContractViolation):
        driver_kit.as_float(value, "the loss")


def test_no_ipython_runs_timing_magics_and_ignores_the_rest():
    namespace = {"get_ipython": driver_kit.no_ipython}
    exec("get_ipython().run_line_magic('time', 'a = 1')\n"
         "get_ipython().run_cell_magic('bash', '', 'rm -rf /')\n"
         "files = get_ipython().getoutput('ls')\n", namespace)
    assert namespace["a"] == 1 and namespace["files"] == []
