"""Tests of the linear-layer losses: equal to the naive loss of the logits, value and gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losslab
from losslab import fused


def params(n=40, d=6, c=23, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, generator=g, dtype=dtype).requires_grad_()
    w = torch.randn(c, d, generator=g, dtype=dtype).requires_grad_()
    b = torch.randn(c, generator=g, dtype=dtype).requires_grad_()
    return h, w, b


def grads(loss, tensors):
    return torch.autograd.grad(loss.sum(), tensors)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_linear_cross_entropy_equals_naive(reduction, eps, dtype):
    h, w, b = params(dtype=dtype)
    y = torch.randint(0, 23, (40,), generator=torch.Generator().manual_seed(1))
    y[:4] = -100
    y[4] = -1  # any negative index is unknown in losslab
    got = losslab.linear_cross_entropy(
        h, w, y, bias=b, label_smoothing=eps, reduction=reduction, chunk_size=16
    )
    want = F.cross_entropy(
        F.linear(h, w, b), y.clamp(min=-100).where(y >= 0, -100), label_smoothing=eps,
        reduction=reduction,
    )  # fmt: skip
    tol = {} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(got, want, **tol)
    for a, e in zip(grads(got, (h, w, b)), grads(want, (h, w, b)), strict=True):
        torch.testing.assert_close(a, e, **tol)


def test_soft_targets_and_mask_and_torch_chunked():
    h, w, b = params()
    t = torch.softmax(torch.randn(40, 23, dtype=torch.float64), dim=1)
    mask = torch.arange(40) % 3 != 0
    got = losslab.linear_cross_entropy(h, w, t, bias=b, mask=mask, label_smoothing=0.2,
                                       chunk_size=7)  # fmt: skip
    want = F.cross_entropy(F.linear(h, w, b)[mask], t[mask], label_smoothing=0.2)
    torch.testing.assert_close(got, want)
    for a, e in zip(grads(got, (h, w, b)), grads(want, (h, w, b)), strict=True):
        torch.testing.assert_close(a, e)
    # torch's own chunked version agrees on integer targets.
    y = torch.randint(0, 23, (40,))
    torch.testing.assert_close(
        losslab.linear_cross_entropy(h, w, y, bias=b),
        F.linear_cross_entropy(h, w, y, linear_bias=b),
    )


def test_gradcheck_none_reduction():
    h, w, b = params(n=5, d=3, c=4)
    y = torch.tensor([1, -1, 3, 0, 2])
    torch.autograd.gradcheck(
        lambda h, w, b: losslab.linear_cross_entropy(
            h, w, y, bias=b, reduction="none", label_smoothing=0.1, chunk_size=2
        ),
        (h, w, b),
    )


def test_all_excluded_gives_zero_and_zero_gradient_and_nan_propagates():
    h, w, b = params(n=6, d=3, c=5)
    loss = losslab.linear_cross_entropy(h, w, torch.full((6,), -100), bias=b)
    assert loss.item() == 0
    for g in grads(loss, (h, w, b)):
        assert (g == 0).all()
    h2 = h.detach().clone()
    h2[0, 0] = float("nan")
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    assert torch.isnan(losslab.linear_cross_entropy(h2, w.detach(), y))
    y[0] = -100  # the NaN row is left out: it must not leak
    out = losslab.linear_cross_entropy(h2.requires_grad_(), w, y)
    assert torch.isfinite(out)
    assert all(torch.isfinite(g).all() for g in grads(out, (h2, w)))


def test_second_backward_is_refused_with_a_clear_error():
    h, w, _ = params(n=4, d=3, c=5)
    loss = losslab.linear_cross_entropy(h, w, torch.tensor([0, 1, 2, 3]))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="backpropagated once"):
        loss.backward()


def test_half_inputs():
    h, w, b = params(dtype=torch.bfloat16)
    y = torch.randint(0, 23, (40,))
    got = losslab.linear_cross_entropy(h, w, y, bias=b)
    assert got.dtype == torch.bfloat16
    got.backward()
    assert h.grad.dtype == w.grad.dtype == torch.bfloat16
    want = F.cross_entropy(F.linear(h, w, b).float(), y)
    torch.testing.assert_close(got.float(), want, rtol=1e-2, atol=1e-2)


# BCE through the eager kernel, focal through the compiled one (one compile, not four).
@pytest.mark.parametrize(
    "kwargs,reduction,use_fused",
    [({}, "mean", False), ({"gamma": 2.0, "alpha": 0.25}, "sum_over_positives", True)],
    ids=["bce-eager", "focal-fused"],
)
def test_linear_sigmoid_loss_equals_naive(kwargs, reduction, use_fused):
    previous = fused.enable(use_fused)
    try:
        h, w, b = params()
        g = torch.Generator().manual_seed(3)
        y = torch.randint(-1, 2, (40, 23), generator=g).to(torch.int8)
        mask = torch.rand(23, generator=g) < 0.8  # per class, broadcast over rows
        got = losslab.linear_sigmoid_loss(h, w, y, bias=b, mask=mask, reduction=reduction,
                                          chunk_size=16, **kwargs)  # fmt: skip
        gamma = kwargs.get("gamma", 0.0)
        want = losslab.focal_loss(F.linear(h, w, b), y.double(), mask=mask, reduction=reduction,
                                  gamma=gamma, alpha=kwargs.get("alpha"))  # fmt: skip
    finally:
        fused.enable(previous)
    torch.testing.assert_close(got, want)
    for a, e in zip(grads(got, (h, w, b)), grads(want, (h, w, b)), strict=True):
        torch.testing.assert_close(a, e)


@pytest.mark.parametrize(
    "call,error,words",
    [
        (lambda: losslab.linear_cross_entropy(torch.zeros(4, 3), torch.zeros(5, 2),
                                              torch.zeros(4, dtype=torch.long)),
         ValueError, "`weight` must have shape (C, 3) for `hidden` (4, 3), got (5, 2)"),
        (lambda: losslab.linear_cross_entropy(torch.zeros(4, 3), torch.zeros(5, 3),
                                              torch.tensor([0, 1, 2, 5])),
         ValueError, "`target` must hold class indices below C=5, got 5"),
        (lambda: losslab.linear_cross_entropy(torch.zeros(4, 3), torch.zeros(5, 3),
                                              torch.zeros(4, 5, 1)),
         ValueError, "`target` must have the shape of `hidden @ weight.T` (4, 5)"),
        (lambda: losslab.linear_cross_entropy(torch.zeros(4, 3), torch.zeros(5, 3),
                                              torch.zeros(4, dtype=torch.long), chunk_size=0),
         ValueError, "`chunk_size` must be a positive int, got 0"),
        (lambda: losslab.linear_cross_entropy(torch.zeros(4, 3), torch.zeros(5, 3),
                                              torch.zeros(4, dtype=torch.long),
                                              bias=torch.zeros(4)),
         ValueError, "`bias` must have shape (5,), got (4,)"),
        (lambda: losslab.linear_sigmoid_loss(torch.zeros(4, 3), torch.zeros(5, 3),
                                             torch.full((4, 5), 2)),
         ValueError, "`target` must be at most 1"),
        (lambda: losslab.linear_sigmoid_loss(torch.zeros(4, 3), torch.zeros(5, 3),
                                             torch.zeros(4, 5), reduction="none"),
         ValueError, "`reduction` must be one of"),
        (lambda: losslab.linear_cross_entropy(torch.zeros(4, 3, dtype=torch.long),
                                              torch.zeros(5, 3), torch.zeros(4)),
         TypeError, "`hidden` must be a floating-point tensor"),
    ],
)  # fmt: skip
def test_errors_name_the_argument(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_compiled_kernel_path_equals_naive():
    # The default compiles only from 2**20 logits; forced here (the variant is shared with
    # test_fused.py's softmax tests when both run in one process).
    previous = fused.enable(True)
    try:
        h, w, b = params()
        y = torch.randint(0, 23, (40,), generator=torch.Generator().manual_seed(5))
        y[:3] = -100
        got = losslab.linear_cross_entropy(h, w, y, bias=b, label_smoothing=0.1, chunk_size=16)
    finally:
        fused.enable(previous)
    want = F.cross_entropy(F.linear(h, w, b), y, label_smoothing=0.1)
    torch.testing.assert_close(got, want)
    for a, e in zip(grads(got, (h, w, b)), grads(want, (h, w, b)), strict=True):
        torch.testing.assert_close(a, e)
