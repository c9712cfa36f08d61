"""Tests of the fused sigmoid kernels: same numbers as the eager path, same guarantees.

The fused path is forced at every size here (`fused.enable(True)`); in normal use it only
starts at 2**20 elements. Compilation is the slow part (about 20 s for the first kernel
in a fresh process, several seconds per further variant: one per dtype, reduction kind,
loss kind and optional argument), so the tests share variants on purpose: most run in
float64 with a mask (all True where the test needs none); float32 math is checked through
float16 inputs and the softmax tests. About a dozen kernels are compiled in all.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import losslab
from losslab import fused
from losslab.fused import sigmoid as fused_sigmoid
from reference import (
    EXTREME_LOGITS,
    assert_close_to_reference,
    asymmetric,
    focal,
    gradient,
    softmax_focal,
    value_and_grad,
)


@pytest.fixture(autouse=True)
def fused_on():
    previous = fused.enable(True)
    yield
    fused.enable(previous)


def eager(fn, *args, **kwargs):
    """`fn` run with fused kernels off."""
    previous = fused.enable(False)
    try:
        return fn(*args, **kwargs)
    finally:
        fused.enable(previous)


def loss_and_grad(fn, x, t, **kwargs):
    x = x.detach().clone().requires_grad_()
    loss = fn(x, t, **kwargs)
    loss.sum().backward()
    return loss.detach(), x.grad


def is_fused(loss: torch.Tensor) -> bool:
    return type(loss.grad_fn).__name__ == "SavedGradientBackward"


# (name, function, kwargs, reference, reference kwargs) as in test_sigmoid.py
CASES = [
    ("bce-smooth", losslab.binary_cross_entropy, {"label_smoothing": 0.1}, focal,
     {"smoothing": 0.1}),
    ("focal-g2", losslab.focal_loss, {}, focal, {"alpha": 0.25, "gamma": 2.0}),
    ("focal-g0.2", losslab.focal_loss, {"gamma": 0.2}, focal, {"alpha": 0.25, "gamma": 0.2}),
    ("asl", losslab.asymmetric_loss, {}, asymmetric, {}),
    ("asl-m0", losslab.asymmetric_loss, {"margin": 0.0, "gamma_pos": 1.0}, asymmetric,
     {"margin": 0.0, "gamma_pos": 1.0}),
]  # fmt: skip


def everywhere(t: torch.Tensor) -> torch.Tensor:
    """An all-True mask: it selects the compiled variant with a mask, shared by most tests."""
    return torch.ones_like(t, dtype=torch.bool)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fused_matches_mpmath_at_extreme_logits(case):
    name, fn, kwargs, ref, ref_kwargs = case
    dtype = torch.float64
    x = torch.tensor(EXTREME_LOGITS, dtype=dtype).repeat(2)
    targets = [1.0, 0.0] if name.startswith("asl") else [1.0, 0.3]
    t = torch.tensor(targets, dtype=dtype).repeat_interleave(len(EXTREME_LOGITS))
    xg = x.clone().requires_grad_()
    loss = fn(xg, t, mask=everywhere(t), reduction="none", **kwargs)
    assert is_fused(loss)
    loss.sum().backward()
    assert torch.isfinite(xg.grad).all(), f"{name}: non-finite gradient {xg.grad}"
    for i, (xi, ti) in enumerate(zip(x.tolist(), t.tolist(), strict=True)):
        value, grad = value_and_grad(ref, xi, t=ti, **ref_kwargs)
        assert_close_to_reference(loss[i].item(), value, dtype, f"{name} value at x={xi}, t={ti}")
        assert_close_to_reference(xg.grad[i].item(), grad, dtype, f"{name} grad at x={xi}")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "sum_over_positives"])
@pytest.mark.parametrize(
    "fn,kwargs",
    [
        (losslab.binary_cross_entropy, {"alpha": 0.3, "label_smoothing": 0.05}),
        (losslab.focal_loss, {"gamma": 2.0}),
        (losslab.asymmetric_loss, {"gamma_pos": 1.0}),
    ],
    ids=["bce", "focal", "asl"],
)
def test_fused_equals_eager_with_unknown_labels_and_mask(fn, kwargs, reduction):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 10, generator=g, dtype=torch.float64) * 6
    x[0, 0] = float("nan")  # excluded below: must not leak
    t = (torch.rand(64, 10, generator=g) < 0.2).double()
    t[torch.rand(64, 10, generator=g) < 0.1] = -1
    t[0, 0] = -1
    mask = torch.rand(64, 10, generator=g) < 0.9
    got, got_grad = loss_and_grad(fn, x, t, mask=mask, reduction=reduction, **kwargs)
    want, want_grad = loss_and_grad(
        lambda *a, **k: eager(fn, *a, **k), x, t, mask=mask, reduction=reduction, **kwargs
    )
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_grad, want_grad)
    assert torch.isfinite(got_grad).all()


def test_fused_weights_and_pos_weight_broadcast():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 4, generator=g, dtype=torch.float64) * 3
    t = torch.rand(32, 4, generator=g, dtype=torch.float64)
    w = torch.rand(32, 4, generator=g, dtype=torch.float64)
    pw = torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=torch.float64)
    kwargs = {"weight": w, "pos_weight": pw, "reduction": "mean"}
    got, got_grad = loss_and_grad(losslab.binary_cross_entropy, x, t, **kwargs)
    want, want_grad = loss_and_grad(torch.nn.functional.binary_cross_entropy_with_logits, x, t,
                                    **kwargs)  # fmt: skip
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_grad, want_grad)


def test_fused_gradcheck():
    g = torch.Generator().manual_seed(2)
    x = (torch.randn(6, 4, generator=g, dtype=torch.float64) * 3).requires_grad_()
    t = torch.rand(6, 4, generator=g, dtype=torch.float64)
    t[0, 0] = -1.0
    mask = torch.rand(6, 4, generator=g) < 0.8
    for reduction in ("mean", "none"):
        torch.autograd.gradcheck(
            lambda inp, r=reduction: losslab.focal_loss(inp, t, gamma=0.5, mask=mask, reduction=r),
            (x,),
        )


@pytest.mark.parametrize("reduction", ["mean", "sum_over_positives", "none"])
def test_fused_all_excluded_gives_zero_and_zero_gradient(reduction):
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = -torch.ones(4, 3, dtype=torch.float64)
    loss = losslab.focal_loss(x, t, mask=everywhere(t), reduction=reduction)
    assert is_fused(loss) and (loss == 0).all()
    loss.sum().backward()
    assert (x.grad == 0).all()


def test_fused_nan_input_propagates():
    x = torch.tensor([float("nan"), 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    loss = losslab.focal_loss(x, t, mask=everywhere(t))
    assert is_fused(loss) and torch.isnan(loss)
    loss.backward()
    assert torch.isnan(x.grad[0]) and torch.isfinite(x.grad[1:]).all()


def test_fused_half_inputs_computed_in_float32():
    dtype = torch.float16  # bfloat16 takes the same path (one compile less)
    x = (torch.randn(200) * 8).to(dtype).requires_grad_()
    t = torch.randint(0, 2, (200,)).to(dtype)
    loss = losslab.focal_loss(x, t, reduction="none")
    assert loss.dtype == dtype and is_fused(loss)
    assert torch.equal(loss, eager(losslab.focal_loss, x.detach().float(), t.float(),
                                   reduction="none").to(dtype))  # fmt: skip
    loss.sum().backward()
    assert x.grad.dtype == dtype
    x32 = x.detach().float().requires_grad_()
    eager(losslab.focal_loss, x32, t.float(), reduction="none").sum().backward()
    torch.testing.assert_close(x.grad, x32.grad.to(dtype))


def test_integer_targets_without_a_copy():
    x = torch.randn(3, 5, dtype=torch.float64)
    t = torch.tensor([[1, 0, -1, 0, 1]] * 3)
    a = losslab.binary_cross_entropy(x, t, mask=everywhere(t))
    b = eager(losslab.binary_cross_entropy, x, t.double())
    torch.testing.assert_close(a, b)


def test_only_the_gradient_is_saved_for_backward():
    x = torch.randn(1000, dtype=torch.float64, requires_grad=True)
    t = (torch.rand(1000) < 0.1).double()
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda s: saved.append(s) or s, lambda s: s):
        loss = losslab.focal_loss(x, t, mask=everywhere(t))
    assert sum(s.numel() for s in saved) <= 1001  # the gradient, and the 1 / count scalar
    loss.backward()


def test_dispatch_rules():
    x = torch.randn(10, dtype=torch.float64, requires_grad=True)
    t = torch.rand(10, dtype=torch.float64)
    assert is_fused(losslab.binary_cross_entropy(x, t, mask=everywhere(t)))
    # Probabilities, a target that needs a gradient, fused off, or below the size: eager.
    assert not is_fused(losslab.binary_cross_entropy(torch.sigmoid(x), t, from_logits=False))
    assert not is_fused(losslab.binary_cross_entropy(x, t.clone().requires_grad_()))
    assert not is_fused(eager(losslab.binary_cross_entropy, x, t))
    fused.enable(None)
    assert not is_fused(losslab.binary_cross_entropy(x, t))
    assert fused.is_enabled(torch.empty(fused.DEFAULT_MIN_NUMEL, device="meta"))
    with pytest.raises(TypeError, match="`flag` must be True, False or None"):
        fused.enable("yes")
    with pytest.raises(ValueError, match="`min_numel` must be a non-negative int"):
        fused.enable(True, min_numel=-1)


def test_failed_compilation_warns_once_and_falls_back(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    # A kernel whose compiler fails at its first call, as a missing gcc or Triton would.
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: broken)
    monkeypatch.setattr(fused_sigmoid, "_compiled_kernel", fused.compiled(fused_sigmoid._kernel))
    monkeypatch.setitem(fused._state, "broken", False)
    x = torch.randn(8, requires_grad=True)
    t = torch.rand(8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = losslab.focal_loss(x, t)
        second = losslab.focal_loss(x, t)
    messages = [str(w.message) for w in caught if "fused loss kernel" in str(w.message)]
    assert len(messages) == 1 and "no C++ compiler" in messages[0]
    assert not is_fused(first) and not is_fused(second)
    torch.testing.assert_close(first, eager(losslab.focal_loss, x, t))


# ---------------------------------------------------------------- softmax cross-entropy


def softmax_case(dtype):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(40, 7, generator=g, dtype=dtype) * 5
    x[0] = torch.tensor([30.0, 0, 0, 0, 0, 0, 0])  # the true class dominates
    x[1, 0] = 1e4
    x[2, 3] = -1e4
    x[3, 1] = float("nan")  # its row is left out below: must not leak
    y = torch.randint(0, 7, (40,), generator=g)
    y[0], y[1], y[2], y[3], y[4] = 0, 0, 3, -100, -1
    mask = torch.rand(40, generator=g) < 0.8
    mask[:3] = True
    return x, y, mask


@pytest.mark.parametrize(
    "reduction,dtype",
    [("none", torch.float64), ("mean", torch.float64), ("sum", torch.float64),
     ("none", torch.float32)],
    ids=["none-f64", "mean-f64", "sum-f64", "none-f32"],
)  # fmt: skip
def test_fused_softmax_cross_entropy_equals_eager(reduction, dtype):
    x, y, mask = softmax_case(dtype)
    kwargs = {"mask": mask, "label_smoothing": 0.1, "reduction": reduction}
    got, got_grad = loss_and_grad(losslab.softmax_cross_entropy, x, y, **kwargs)
    want, want_grad = loss_and_grad(
        lambda *a, **k: eager(losslab.softmax_cross_entropy, *a, **k), x, y, **kwargs
    )
    tol = {} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}
    torch.testing.assert_close(got, want, **tol)
    keep = (y >= 0) & mask
    assert torch.isfinite(got_grad).all() and (got_grad[~keep] == 0).all()
    torch.testing.assert_close(got_grad, want_grad, **tol)


def test_fused_softmax_exact_where_the_true_class_dominates():
    x = torch.tensor([[30.0, 0.0, 0.0], [40.0, 0.0, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0])
    loss = losslab.softmax_cross_entropy(x, y, mask=everywhere(y), reduction="none")
    assert type(loss.grad_fn).__name__ == "SavedGradientBackward"
    # -log p_0 = log1p(2 e^-30): float32 keeps it, log_softmax would return 0.
    torch.testing.assert_close(loss, torch.tensor([2 * math.exp(-30), 2 * math.exp(-40)]))
    loss.sum().backward()
    torch.testing.assert_close(x.grad[:, 0], -loss.detach(), rtol=1e-6, atol=0)


def test_fused_softmax_all_excluded_and_gradcheck():
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    y = torch.full((5,), -100)
    loss = losslab.softmax_cross_entropy(x, y, mask=everywhere(y))
    assert loss.item() == 0
    loss.backward()
    assert (x.grad == 0).all()
    y = torch.tensor([0, 3, -1, 2, 1])
    mask = torch.tensor([True, True, True, False, True])
    torch.autograd.gradcheck(
        lambda inp: losslab.softmax_cross_entropy(inp, y, mask=mask, label_smoothing=0.1,
                                                  reduction="none"),
        (x,),
    )  # fmt: skip


# ---------------------------------------------------------------- softmax focal loss

FOCAL_ALPHA = [0.25, 1.0, 0.5, 2.0, 1.5, 0.75, 1.0]


def is_fused_softmax(loss: torch.Tensor) -> bool:
    return type(loss.grad_fn).__name__ == "SavedGradientBackward"


@pytest.mark.parametrize(
    "reduction,dtype",
    [("none", torch.float64), ("mean", torch.float64), ("sum", torch.float64),
     ("none", torch.float32)],
    ids=["none-f64", "mean-f64", "sum-f64", "none-f32"],
)  # fmt: skip
def test_fused_softmax_focal_equals_eager(reduction, dtype):
    x, y, mask = softmax_case(dtype)
    alpha = torch.tensor(FOCAL_ALPHA, dtype=dtype)
    kwargs = {"mask": mask, "gamma": 2.0, "alpha": alpha, "reduction": reduction}
    got, got_grad = loss_and_grad(losslab.softmax_focal_loss, x, y, **kwargs)
    want, want_grad = loss_and_grad(
        lambda *a, **k: eager(losslab.softmax_focal_loss, *a, **k), x, y, **kwargs
    )
    assert is_fused_softmax(losslab.softmax_focal_loss(x.requires_grad_(), y, **kwargs))
    tol = {} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}
    torch.testing.assert_close(got, want, **tol)
    keep = (y >= 0) & mask
    assert torch.isfinite(got_grad).all() and (got_grad[~keep] == 0).all()
    torch.testing.assert_close(got_grad, want_grad, **tol)


# Rows of logits from [-1e4, 1e4] (a dominant class, saturation, ties, tiny gaps), each
# against every class as the true one.
FOCAL_ROWS = [
    [3.0, -1.0, 0.5, -2.5],
    [30.0, 0.0, -5.0, 1.0],
    [37.0, 36.0, -40.0, 0.0],
    [745.0, 0.0, 3.0, -745.0],
    [1e4, 0.0, -1e4, 5.0],
    [-1e4, 1e4, 700.0, -700.0],
    [1e4, 1e4, 1e4, 1e4],
    [1e-3, -1e-3, 0.0, 2e-3],
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_fused_softmax_focal_matches_mpmath_at_extreme_logits(dtype):
    # gamma in (0, 1): the focusing factor's derivative is infinite at saturated logits
    # in the (1 - p) ** gamma form; the fused gradient must stay finite and exact.
    kwargs = {"gamma": 0.5, "alpha": FOCAL_ALPHA[:4]}
    rows = [row for row in FOCAL_ROWS for _ in range(4)]
    ys = [c for _ in FOCAL_ROWS for c in range(4)]
    x = torch.tensor(rows, dtype=dtype, requires_grad=True)
    y = torch.tensor(ys)
    alpha = torch.tensor(kwargs["alpha"], dtype=dtype)
    loss = losslab.softmax_focal_loss(x, y, gamma=0.5, alpha=alpha, mask=everywhere(y),
                                      reduction="none")  # fmt: skip
    assert is_fused_softmax(loss)
    loss.sum().backward()
    assert torch.isfinite(x.grad).all(), f"non-finite gradient {x.grad}"
    for i, (row, yi) in enumerate(zip(rows, ys, strict=True)):
        where = f"fused focal at x={row}, y={yi}"
        assert_close_to_reference(loss[i].item(), softmax_focal(row, yi, **kwargs), dtype, where)
        for j, g in enumerate(gradient(softmax_focal, row, y=yi, **kwargs)):
            assert_close_to_reference(x.grad[i, j].item(), g, dtype, f"{where}: grad {j}")


def test_fused_softmax_focal_all_excluded_gradcheck_and_gamma_zero():
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    alpha = torch.tensor(FOCAL_ALPHA[:4], dtype=torch.float64)
    loss = losslab.softmax_focal_loss(x, torch.full((5,), -100), alpha=alpha,
                                      mask=everywhere(x[:, 0]))  # fmt: skip
    assert is_fused_softmax(loss) and loss.item() == 0
    loss.backward()
    assert (x.grad == 0).all()
    # A NaN logit in an included row propagates to the loss and to that row's gradient.
    x_nan = x.detach().clone()
    x_nan[1, 2] = float("nan")
    loss, grad = loss_and_grad(losslab.softmax_focal_loss, x_nan, torch.tensor([0, 1, -1, 2, 3]),
                               alpha=alpha, mask=everywhere(x[:, 0]))  # fmt: skip
    assert torch.isnan(loss) and torch.isnan(grad[1]).all()
    assert torch.isfinite(grad[[0, 3, 4]]).all() and (grad[2] == 0).all()
    y = torch.tensor([0, 3, -1, 2, 1])
    mask = torch.tensor([True, True, True, False, True])
    for reduction in ("none", "mean"):
        torch.autograd.gradcheck(
            lambda inp, r=reduction: losslab.softmax_focal_loss(
                inp, y, gamma=0.5, alpha=alpha, mask=mask, reduction=r
            ),
            (x,),
        )
    # gamma=0 without alpha is cross-entropy: the fused cross-entropy's numbers (float32,
    # "none" and a mask: variants compiled above for both losses).
    x32, y32, mask32 = softmax_case(torch.float32)
    kwargs = {"mask": mask32, "reduction": "none"}
    focal, focal_grad = loss_and_grad(losslab.softmax_focal_loss, x32, y32, gamma=0.0, **kwargs)
    ce, ce_grad = loss_and_grad(losslab.softmax_cross_entropy, x32, y32, **kwargs)
    torch.testing.assert_close(focal, ce, rtol=2e-6, atol=0)
    torch.testing.assert_close(focal_grad, ce_grad, rtol=2e-6, atol=1e-30)


def test_fused_softmax_focal_dispatch():
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    mask = everywhere(y)
    w = torch.ones(4, dtype=torch.float64)
    assert is_fused_softmax(losslab.softmax_focal_loss(x, y, mask=mask, reduction="sum"))
    # Label smoothing, class weights, a trainable alpha, another class dim: eager.
    assert not is_fused_softmax(losslab.softmax_focal_loss(x, y, label_smoothing=0.1))
    assert not is_fused_softmax(losslab.softmax_focal_loss(x, y, weight=w))
    assert not is_fused_softmax(losslab.softmax_focal_loss(x, y, alpha=w.requires_grad_()))
    assert not is_fused_softmax(losslab.softmax_focal_loss(x.T, y, dim=0))
