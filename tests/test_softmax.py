"""Tests of the softmax family: references, agreement with torch, masks, dtypes and errors."""

from __future__ import annotations

import math

import mpmath as mp
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losslab
from losslab import nn as lnn
from reference import (
    RTOL,
    TINY,
    assert_close_to_reference,
    gradient,
    kl_softmax,
    multilabel_softmax,
    soft_cross_entropy,
    softmax_focal,
)

# ---------------------------------------------------------------- mpmath references

# Rows of logits from [-1e4, 1e4]: mixed signs, one dominant class, all equal, tiny gaps.
LOGIT_ROWS = [
    [3.0, -1.0, 0.5, -2.5],
    [30.0, 0.0, -5.0, 1.0],
    [40.0, 20.0, 0.0, -20.0],
    [37.0, 36.0, -40.0, 0.0],
    [745.0, 0.0, 3.0, -745.0],
    [1e4, 0.0, -1e4, 5.0],
    [-1e4, 1e4, 700.0, -700.0],
    [5.0, 5.0, 5.0, 5.0],
    [1e4, 1e4, 1e4, 1e4],
    [-1e4, -1e4, -1e4, -1e4],
    [1e-3, -1e-3, 0.0, 2e-3],
]
NUM_CLASSES = 4
# Every row against every class as the true one.
BATCH_X = [row for row in LOGIT_ROWS for _ in range(NUM_CLASSES)]
BATCH_Y = [c for _ in LOGIT_ROWS for c in range(NUM_CLASSES)]
ALPHA = [0.25, 1.0, 0.5, 2.0]


_REFERENCES: dict = {}


def _reference(fn, row, **kwargs):
    """(value, partial derivatives) of an mpmath reference, computed once for both dtypes."""
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
    key = (fn.__name__, tuple(row), frozen)
    if key not in _REFERENCES:
        _REFERENCES[key] = (fn(row, **kwargs), gradient(fn, row, **kwargs))
    return _REFERENCES[key]


# (id, losslab function, its kwargs, reference kwargs of softmax_focal)
INDEX_CASES = [
    ("ce", losslab.softmax_cross_entropy, {}, {}),
    ("focal-g2", losslab.softmax_focal_loss, {}, {"gamma": 2.0}),
    ("focal-g0.5", losslab.softmax_focal_loss, {"gamma": 0.5}, {"gamma": 0.5}),
    (
        "focal-g1-alpha",
        losslab.softmax_focal_loss,
        {"gamma": 1.0, "alpha": ALPHA},
        {"gamma": 1.0, "alpha": ALPHA},
    ),
]


def _run_batch(fn, kwargs, dtype, rows=BATCH_X, targets=BATCH_Y):
    """Per-sample losses and the gradient of their sum, for rows of logits."""
    kwargs = {k: torch.tensor(v, dtype=dtype) if k == "alpha" else v for k, v in kwargs.items()}
    x = torch.tensor(rows, dtype=dtype, requires_grad=True)
    target = (
        torch.tensor(targets) if isinstance(targets[0], int) else torch.tensor(targets, dtype=dtype)
    )
    loss = fn(x, target, reduction="none", **kwargs)
    loss.sum().backward()
    assert torch.isfinite(x.grad).all(), f"non-finite gradient {x.grad}"
    return loss.detach(), x.grad


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_index_losses_match_mpmath_at_extreme_logits(case, dtype):
    name, fn, kwargs, ref_kwargs = case
    loss, grad = _run_batch(fn, kwargs, dtype)
    for i, (row, y) in enumerate(zip(BATCH_X, BATCH_Y, strict=True)):
        where = f"{name} at x={row}, y={y}"
        value, grads = _reference(softmax_focal, row, y=y, **ref_kwargs)
        assert_close_to_reference(loss[i].item(), value, dtype, where)
        for j, g in enumerate(grads):
            assert_close_to_reference(grad[i, j].item(), g, dtype, f"{where}: grad {j}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(
    "fn,kwargs",
    [
        (losslab.softmax_cross_entropy, {}),
        (losslab.softmax_focal_loss, {"gamma": 2.0}),
        (losslab.softmax_focal_loss, {"gamma": 0.5, "alpha": ALPHA}),
    ],
    ids=["ce", "focal-g2", "focal-g0.5-alpha"],
)
def test_label_smoothing_matches_mpmath(fn, kwargs, dtype):
    # The value is a sum of non-negative terms and keeps its relative digits. A gradient
    # entry p_c - eps/C can cancel to near 0, so gradients are compared to the row's
    # largest entry.
    loss, grad = _run_batch(fn, {**kwargs, "label_smoothing": 0.1}, dtype)
    for i, (row, y) in enumerate(zip(BATCH_X, BATCH_Y, strict=True)):
        ref_kwargs = {**kwargs, "smoothing": 0.1}
        assert_close_to_reference(
            loss[i].item(),
            _reference(softmax_focal, row, y=y, **ref_kwargs)[0],
            dtype,
            f"x={row}, y={y}",
        )
        want = [float(g) for g in _reference(softmax_focal, row, y=y, **ref_kwargs)[1]]
        scale = max(abs(g) for g in want)
        err = max(abs(a - b) for a, b in zip(grad[i].tolist(), want, strict=True))
        assert err <= RTOL[dtype] * scale, f"x={row}, y={y}: grad error {err:.3g}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_soft_targets_match_mpmath(dtype):
    targets = [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.7, 0.1, 0.2, 0.0]]
    rows = [row for row in LOGIT_ROWS for _ in targets]
    ts = [t for _ in LOGIT_ROWS for t in targets]
    loss, grad = _run_batch(losslab.softmax_cross_entropy, {}, dtype, rows, ts)
    for i, (row, t) in enumerate(zip(rows, ts, strict=True)):
        where = f"x={row}, t={t}"
        value, grads = _reference(soft_cross_entropy, row, t=t)
        assert_close_to_reference(loss[i].item(), value, dtype, where)
        # Soft-target gradients T p_c - t_c are exact to rounding of the largest entry.
        want = [float(g) for g in grads]
        err = max(abs(a - b) for a, b in zip(grad[i].tolist(), want, strict=True))
        assert err <= 4 * RTOL[dtype] * max(abs(g) for g in want) + 1e-300, where


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mode", ["normalized", "per_positive"])
def test_multilabel_matches_mpmath(mode, dtype):
    targets = [[1, 0, 0, 0], [0, 1, -1, 0], [1, 1, 0, 0], [1, 0, 1, -1], [1, 1, 1, 1]]
    rows = [row for row in LOGIT_ROWS for _ in targets]
    ts = [t for _ in LOGIT_ROWS for t in targets]
    x = torch.tensor(rows, dtype=dtype, requires_grad=True)
    loss = losslab.multilabel_softmax_loss(x, torch.tensor(ts), mode=mode, reduction="none")
    loss.sum().backward()
    assert torch.isfinite(x.grad).all()
    for i, (row, t) in enumerate(zip(rows, ts, strict=True)):
        where = f"{mode} at x={row}, t={t}"
        assert_close_to_reference(
            loss[i].item(), _reference(multilabel_softmax, row, t=t, mode=mode)[0], dtype, where
        )
        want = [float(g) for g in _reference(multilabel_softmax, row, t=t, mode=mode)[1]]
        err = max(abs(a - b) for a, b in zip(x.grad[i].tolist(), want, strict=True))
        assert err <= 4 * RTOL[dtype] * max(max(abs(g) for g in want), 1e-300), where
        if mode == "per_positive":  # each positive's term is exact entry by entry
            for j, g in enumerate(want):
                assert_close_to_reference(x.grad[i, j].item(), g, dtype, f"{where}: grad {j}")


def test_log_softmax_loses_digits_that_losslab_keeps():
    x = torch.tensor([[30.0, 0.0, 0.0]], dtype=torch.float64)
    want = float(softmax_focal([30.0, 0.0, 0.0], 0))
    ours = losslab.softmax_cross_entropy(x, torch.tensor([0])).item()
    theirs = F.cross_entropy(x, torch.tensor([0])).item()
    assert abs(ours - want) / want < 1e-14
    assert abs(theirs - want) / want > 1e-5
    # float32: torch rounds the loss of a 20-nat gap to 0; losslab returns e^-20.
    x32 = torch.tensor([[20.0, 0.0]])
    assert F.cross_entropy(x32, torch.tensor([0])).item() == 0.0
    assert losslab.softmax_cross_entropy(x32, torch.tensor([0])).item() == pytest.approx(
        math.exp(-20), rel=1e-6
    )


# ---------------------------------------------------------------- agreement with torch


def _close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def _both(fn_ours, fn_torch, x):
    """Values and input gradients of two functions of x."""
    out = []
    for fn in (fn_ours, fn_torch):
        xi = x.clone().requires_grad_()
        value = fn(xi)
        (grad,) = torch.autograd.grad(value.sum(), xi)
        out.append((value.detach(), grad))
    return out


@pytest.mark.parametrize("shape", [(16, 5), (4, 5, 3, 2)], ids=["NC", "NCd1d2"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"ignore": True},
        {"label_smoothing": 0.15},
        {"weight": True},
        {"weight": True, "ignore": True},
        {"label_smoothing": 0.2, "ignore": True},
    ],
    ids=["plain", "ignore", "smooth", "weight", "weight-ignore", "smooth-ignore"],
)
def test_index_targets_agree_with_f_cross_entropy(shape, reduction, options):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 4
    sample = (shape[0],) + shape[2:]
    y = torch.randint(0, shape[1], sample, generator=g)
    if options.get("ignore"):
        y[torch.rand(sample, generator=g) < 0.3] = -100
    weight = torch.rand(shape[1], generator=g, dtype=torch.float64) + 0.1
    ours = {"reduction": reduction, "label_smoothing": options.get("label_smoothing", 0.0)}
    if options.get("weight"):
        ours["weight"] = weight
    (a, ga), (b, gb) = _both(
        lambda xi: losslab.softmax_cross_entropy(xi, y, **ours),
        lambda xi: F.cross_entropy(xi, y, ignore_index=-100, **ours),
        x,
    )
    _close(a, b)
    _close(ga, gb)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(
    "options",
    [{}, {"label_smoothing": 0.1}, {"weight": True}],
    ids=["plain", "smooth", "weight"],
)
def test_soft_targets_agree_with_f_cross_entropy(reduction, options):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 5, 3, generator=g, dtype=torch.float64) * 3
    t = torch.softmax(torch.randn(6, 5, 3, generator=g, dtype=torch.float64) * 2, dim=1)
    kwargs = {"reduction": reduction, **options}
    if options.get("weight"):
        kwargs["weight"] = torch.rand(5, generator=g, dtype=torch.float64) + 0.1
    (a, ga), (b, gb) = _both(
        lambda xi: losslab.softmax_cross_entropy(xi, t, **kwargs),
        lambda xi: F.cross_entropy(xi, t, **kwargs),
        x,
    )
    _close(a, b)
    _close(ga, gb)


def test_one_hot_soft_targets_equal_index_targets():
    x = torch.randn(10, 4, dtype=torch.float64) * 5
    y = torch.randint(0, 4, (10,))
    w = torch.rand(4, dtype=torch.float64)
    for kwargs in ({}, {"label_smoothing": 0.3}, {"weight": w, "label_smoothing": 0.3}):
        _close(
            losslab.softmax_cross_entropy(x, y, reduction="none", **kwargs),
            losslab.softmax_cross_entropy(x, F.one_hot(y, 4).double(), reduction="none", **kwargs),
        )


def test_weight_with_smoothing_keeps_the_smoothing_mass_uniform():
    x = torch.randn(8, 4, dtype=torch.float64)
    y = torch.randint(0, 4, (8,))
    w = torch.tensor([1.0, 5.0, 0.2, 2.0], dtype=torch.float64)
    eps = 0.2
    log_p = torch.log_softmax(x, 1)
    nll = -log_p.gather(1, y[:, None])[:, 0]
    uniform = -log_p.mean(1)
    want = w[y] * ((1 - eps) * nll + eps * uniform)
    got = losslab.softmax_cross_entropy(x, y, weight=w, label_smoothing=eps, reduction="none")
    _close(got, want)
    # "mean" divides by the sum of the samples' weights, as F.cross_entropy does.
    _close(
        losslab.softmax_cross_entropy(x, y, weight=w, label_smoothing=eps),
        want.sum() / w[y].sum(),
    )
    # F.cross_entropy weighs the smoothing mass of each class by that class's weight.
    torch_none = F.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction="none")
    assert not torch.allclose(got, torch_none)


# ---------------------------------------------------------------- masks and ignoring


def test_masked_equals_indexed():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(30, 5, generator=g, dtype=torch.float64) * 3
    y = torch.randint(0, 5, (30,), generator=g)
    ignored = torch.rand(30, generator=g) < 0.2
    mask = torch.rand(30, generator=g) < 0.8
    keep = ~ignored & mask
    y_marked = torch.where(ignored, -100, y)
    w = torch.rand(5, generator=g, dtype=torch.float64)
    for fn, kwargs in [
        (losslab.softmax_cross_entropy, {"weight": w, "label_smoothing": 0.1}),
        (losslab.softmax_focal_loss, {"gamma": 1.5, "alpha": w}),
    ]:
        for reduction in ("mean", "sum"):
            _close(
                fn(x, y_marked, mask=mask, reduction=reduction, **kwargs),
                fn(x[keep], y[keep], reduction=reduction, **kwargs),
            )
        none = fn(x, y_marked, mask=mask, reduction="none", **kwargs)
        assert (none[~keep] == 0).all()
    # Soft targets: a row of -1 (what multi_hot writes for an ignored index) is left out.
    t = F.one_hot(y, 5).double()
    t[ignored] = -1
    _close(
        losslab.softmax_cross_entropy(x, t, mask=mask),
        losslab.softmax_cross_entropy(x[keep], t[keep]),
    )


ALL_IGNORED = [
    (losslab.softmax_cross_entropy, {}),
    (losslab.softmax_cross_entropy, {"weight": torch.ones(3), "label_smoothing": 0.1}),
    (losslab.softmax_focal_loss, {"gamma": 0.5}),
]


@pytest.mark.parametrize("fn,kwargs", ALL_IGNORED)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_all_ignored_gives_zero_and_zero_gradient(fn, kwargs, reduction):
    x = torch.randn(4, 3, requires_grad=True)
    for target, mask in [
        (torch.full((4,), -100), None),
        (torch.tensor([0, 1, 2, 0]), torch.zeros(4, dtype=torch.bool)),
    ]:
        loss = fn(x, target, mask=mask, reduction=reduction, **kwargs)
        assert (loss == 0).all()
        loss.sum().backward()
        assert (x.grad == 0).all()
        x.grad = None
    # F.cross_entropy returns NaN here (pytorch#70348).
    assert torch.isnan(F.cross_entropy(x, torch.full((4,), -100)))


def test_all_ignored_soft_targets_and_multilabel_give_zero():
    x = torch.randn(4, 3, requires_grad=True)
    loss = losslab.softmax_cross_entropy(x, -torch.ones(4, 3))
    loss.backward()
    assert loss.item() == 0 and (x.grad == 0).all()
    for mode in ("normalized", "per_positive"):
        x.grad = None
        loss = losslab.multilabel_softmax_loss(x, -torch.ones(4, 3), mode=mode)
        loss.backward()
        assert loss.item() == 0 and (x.grad == 0).all()


def test_nan_input_propagates():
    x = torch.tensor([[float("nan"), 1.0], [0.0, 1.0]])
    assert torch.isnan(losslab.softmax_cross_entropy(x, torch.tensor([1, 0])))
    assert torch.isnan(losslab.softmax_focal_loss(x, torch.tensor([1, 0])))
    assert torch.isnan(losslab.multilabel_softmax_loss(x, torch.tensor([[1, 0], [0, 1]])))
    # Left out, the NaN sample costs nothing.
    assert torch.isfinite(losslab.softmax_cross_entropy(x, torch.tensor([-100, 0])))


@pytest.mark.parametrize("fn,kwargs", [
    (losslab.softmax_cross_entropy, {}),
    (losslab.softmax_cross_entropy, {"label_smoothing": 0.1}),
    (losslab.softmax_focal_loss, {"gamma": 0.5}),
    (losslab.softmax_focal_loss, {"label_smoothing": 0.1}),
])  # fmt: skip
def test_left_out_nan_sample_gets_zero_gradient(fn, kwargs):
    # As in the sigmoid family and the fused kernels: a left-out sample's gradient is 0,
    # even where its logits hold NaN or inf (0 * NaN would be NaN).
    x = torch.tensor([[float("nan"), 1.0], [0.0, 1.0], [float("inf"), 0.0]], requires_grad=True)
    cases = [
        (torch.tensor([-100, 0, -1]), None),
        (torch.tensor([1, 0, 0]), torch.tensor([False, True, False])),
    ]
    for target, mask in cases:
        x.grad = None
        fn(x, target, mask=mask, **kwargs).backward()
        assert (x.grad[[0, 2]] == 0).all() and torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- focal loss


def test_focal_at_gamma_zero_equals_cross_entropy():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(20, 6, 3, generator=g, dtype=torch.float64) * 5
    y = torch.randint(-1, 6, (20, 3), generator=g)
    w = torch.rand(6, generator=g, dtype=torch.float64)
    for kwargs in (
        {},
        {"weight": w},
        {"label_smoothing": 0.2},
        {"weight": w, "label_smoothing": 0.1},
    ):
        for reduction in ("none", "mean", "sum"):
            options = {"reduction": reduction, **kwargs}
            (a, ga), (b, gb) = _both(
                lambda xi, o=options: losslab.softmax_focal_loss(xi, y, gamma=0.0, **o),
                lambda xi, o=options: losslab.softmax_cross_entropy(xi, y, **o),
                x,
            )
            _close(a, b)
            _close(ga, gb)


def test_focal_is_at_most_cross_entropy_and_decreases_with_gamma():
    x = torch.randn(200, 5, dtype=torch.float64) * 4
    y = torch.randint(0, 5, (200,))
    ce = losslab.softmax_cross_entropy(x, y, reduction="none")
    previous = ce
    for gamma in (0.5, 1.0, 2.0, 5.0):
        focal = losslab.softmax_focal_loss(x, y, gamma=gamma, reduction="none")
        assert (focal <= previous).all()
        previous = focal
    # The textbook formula at moderate logits.
    p = torch.softmax(x, 1).gather(1, y[:, None])[:, 0]
    torch.testing.assert_close(
        losslab.softmax_focal_loss(x, y, reduction="none"), -((1 - p) ** 2) * torch.log(p)
    )


def test_focal_gamma_below_one_has_finite_gradient_at_saturated_logits():
    x = torch.tensor([[30.0, 0.0, 0.0], [100.0, -5.0, 0.0], [1e4, 0.0, 1.0]], requires_grad=True)
    y = torch.tensor([0, 0, 0])
    # The textbook formula: (1 - p) ** gamma has an infinite derivative where p rounds to 1.
    log_p = torch.log_softmax(x, 1).gather(1, y[:, None])
    (-((1 - log_p.exp()) ** 0.5) * log_p).sum().backward()
    assert not torch.isfinite(x.grad).all()
    x.grad = None
    losslab.softmax_focal_loss(x, y, gamma=0.5, label_smoothing=0.1, reduction="sum").backward()
    assert torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- multi-label softmax


def test_normalized_spreads_one_over_the_positives():
    x = torch.randn(3, 8, dtype=torch.float64)
    y = torch.tensor([[1, 0, 0, 0, 1, 1, 0, 0]] * 3)
    soft = torch.tensor([[1 / 3, 0, 0, 0, 1 / 3, 1 / 3, 0, 0]] * 3, dtype=torch.float64)
    for reduction in ("none", "mean", "sum"):
        _close(
            losslab.multilabel_softmax_loss(x, y, reduction=reduction),
            F.cross_entropy(x, soft, reduction=reduction),
        )


def _per_positive_loop(x, y):
    """The O(C * positives) definition, one softmax per positive, in float64."""
    rows = []
    for xr, yr in zip(x, y, strict=True):
        neg = xr[yr == 0]
        terms = [
            -torch.log_softmax(torch.cat([xr[c : c + 1], neg]), 0)[0]
            for c in range(len(xr))
            if yr[c] == 1
        ]
        rows.append(torch.stack(terms).sum() if terms else xr.sum() * 0)
    return torch.stack(rows)


def test_per_positive_equals_the_naive_loop():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(25, 9, generator=g, dtype=torch.float64) * 3
    y = torch.randint(-1, 2, (25, 9), generator=g)
    (a, ga), (b, gb) = _both(
        lambda xi: losslab.multilabel_softmax_loss(xi, y, mode="per_positive", reduction="none"),
        lambda xi: _per_positive_loop(xi, y),
        x,
    )
    _close(a, b)
    _close(ga, gb)


@pytest.mark.parametrize("mode", ["normalized", "per_positive"])
def test_unknown_labels_take_no_part(mode):
    g = torch.Generator().manual_seed(6)
    x = torch.randn(12, 7, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (12, 7), generator=g)
    y[:, 0] = 1
    unknown = torch.rand(12, 7, generator=g) < 0.3
    unknown[:, 0] = False
    marked = torch.where(unknown, -1, y)
    loss = losslab.multilabel_softmax_loss(x, marked, mode=mode, reduction="none")
    # Any logit at an unknown label, even inf or NaN, changes nothing and gets no gradient.
    wild = torch.where(unknown, torch.tensor(float("inf"), dtype=torch.float64), x)
    wild[0, unknown[0]] = float("nan")
    wild.requires_grad_()
    again = losslab.multilabel_softmax_loss(wild, marked, mode=mode, reduction="none")
    _close(again, loss)
    again.sum().backward()
    assert torch.isfinite(wild.grad).all() and (wild.grad[unknown] == 0).all()
    # mask=False is the same as -1, and both equal the row without those classes.
    _close(losslab.multilabel_softmax_loss(x, y, mode=mode, mask=~unknown, reduction="none"), loss)
    for i in range(12):
        keep = ~unknown[i]
        row = losslab.multilabel_softmax_loss(x[i : i + 1, keep], y[i : i + 1, keep], mode=mode)
        _close(row, loss[i])


def test_rows_without_a_positive_are_not_counted():
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [-1, 0, -1, 0, 0], [0, 1, 1, 0, -1]])
    for mode in ("normalized", "per_positive"):
        none = losslab.multilabel_softmax_loss(x, y, mode=mode, reduction="none")
        assert none[1] == 0 and none[2] == 0
        mean = losslab.multilabel_softmax_loss(x, y, mode=mode)
        _close(mean, (none[0] + none[3]) / 2)
        (grad,) = torch.autograd.grad(mean, x)
        assert (grad[1:3] == 0).all()


def test_per_positive_does_not_let_positives_compete():
    # Raising one positive's logit does not change another positive's term.
    x = torch.tensor([[2.0, 1.0, 0.0, -1.0]], dtype=torch.float64)
    y = torch.tensor([[1, 1, 0, 0]])
    x2 = x.clone()
    x2[0, 0] = 50.0
    per = losslab.multilabel_softmax_loss(x, y, mode="per_positive")
    per2 = losslab.multilabel_softmax_loss(x2, y, mode="per_positive")
    one = losslab.multilabel_softmax_loss(x[:, 1:], y[:, 1:], mode="per_positive")
    assert per2.item() == pytest.approx(
        one.item() + math.log1p(math.exp(math.log(1 + math.exp(-1)) - 50)), rel=1e-12
    )
    assert per2 < per
    # In normalized mode they share one softmax: the loss stays above log 2.
    assert losslab.multilabel_softmax_loss(x2, y).item() > math.log(2)


# ---------------------------------------------------------------- multi_hot


def test_multi_hot_one_hot_and_ignored_rows():
    got = losslab.multi_hot(torch.tensor([2, 0, -100, 1]), 3)
    want = torch.tensor([[0, 0, 1], [1, 0, 0], [-1, -1, -1], [0, 1, 0]], dtype=torch.float32)
    assert torch.equal(got, want)
    lists = losslab.multi_hot(torch.tensor([[0, 0, 2], [-1, 1, -1], [-1, -1, -1]]), 4)
    assert torch.equal(
        lists, torch.tensor([[1, 0, 1, 0], [0, 1, 0, 0], [-1, -1, -1, -1]], dtype=torch.float32)
    )


def test_multi_hot_trains_a_multiclass_problem_with_one_bce_per_class():
    x = torch.randn(6, 4, dtype=torch.float64)
    y = torch.tensor([0, 3, -100, 1, -100, 2])
    t = losslab.multi_hot(y, 4).double()
    keep = y >= 0
    _close(
        losslab.binary_cross_entropy(x, t),
        F.binary_cross_entropy_with_logits(x[keep], F.one_hot(y[keep], 4).double()),
    )
    # And its rows are soft targets whose ignored rows softmax CE leaves out.
    _close(losslab.softmax_cross_entropy(x, t), F.cross_entropy(x, y))


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "call",
    [
        lambda x, y: losslab.softmax_cross_entropy(x, y, reduction="none", label_smoothing=0.1),
        lambda x, y: losslab.softmax_focal_loss(x, y, reduction="none", gamma=0.5),
        lambda x, y: losslab.softmax_cross_entropy(
            x, F.one_hot(y.clamp(min=0), 5).to(x.dtype), reduction="none"
        ),
        lambda x, y: losslab.multilabel_softmax_loss(
            x, F.one_hot(y.clamp(min=0), 5), reduction="none"
        ),
        lambda x, y: losslab.multilabel_softmax_loss(
            x, F.one_hot(y.clamp(min=0), 5), mode="per_positive", reduction="none"
        ),
        lambda x, y: losslab.kl_divergence_loss(
            x,
            torch.tensor([0.5, 0.25, 0.125, 0.0625, 0.0625], dtype=x.dtype).expand(40, 5),
            reduction="none",
        ),
        lambda x, y: losslab.soft_f1_loss(x, y),
    ],
    ids=["ce", "focal", "soft", "normalized", "per_positive", "kl", "f1"],
)
def test_half_inputs_computed_in_float32(call, dtype):
    x = (torch.randn(40, 5) * 8).to(dtype)
    y = torch.randint(-1, 5, (40,))
    got = call(x, y)
    assert got.dtype == dtype
    assert torch.equal(got, call(x.float(), y).to(dtype))
    x.requires_grad_()
    call(x, y).sum().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()


def test_float64_stays_float64_and_bool_soft_targets_work():
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1, 0])
    assert losslab.softmax_cross_entropy(x, y).dtype == torch.float64
    assert torch.equal(
        losslab.softmax_cross_entropy(x, F.one_hot(y, 3).bool()),
        losslab.softmax_cross_entropy(x, F.one_hot(y, 3).double()),
    )
    # A 1-d input with dim=0 is a single sample.
    _close(losslab.softmax_cross_entropy(x[0], y[0], dim=0), F.cross_entropy(x[0], y[0]))
    # Classes last.
    _close(
        losslab.softmax_cross_entropy(x.T.contiguous()[None], y[None], dim=1),
        losslab.softmax_cross_entropy(x[None], y[None], dim=-1),
    )


# ---------------------------------------------------------------- KL divergence


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_kl_matches_mpmath(temperature, dtype):
    targets = [[1.0, 0.0, 0.0, 0.0], [0.7, 0.1, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]]
    rows = [row for row in LOGIT_ROWS for _ in targets]
    ts = [t for _ in LOGIT_ROWS for t in targets]
    loss, grad = _run_batch(
        losslab.kl_divergence_loss, {"temperature": temperature}, dtype, rows, ts
    )
    for i, (row, t) in enumerate(zip(rows, ts, strict=True)):
        where = f"T={temperature} at x={row}, t={t}"
        want, grads = _reference(kl_softmax, row, t=t, temperature=temperature)
        # KL is a sum of terms of both signs: compare to the size of its largest term.
        entropy = -sum(v * math.log(v) for v in t if v > 0)
        cross = float(soft_cross_entropy([v / temperature for v in row], t))
        scale = temperature**2 * (cross + entropy)
        err = abs(loss[i].item() - float(want))
        assert scale < TINY[dtype] or err <= 4 * RTOL[dtype] * scale, where
        g = [float(v) for v in grads]
        # T (q - t) cancels where q is close to t: compare to the size of T t.
        scale = max(max(abs(v) for v in g), temperature * max(t))
        err = max(abs(a - b) for a, b in zip(grad[i].tolist(), g, strict=True))
        assert scale < TINY[dtype] or err <= 4 * RTOL[dtype] * scale, where


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_kl_agrees_with_f_kl_div_batchmean_times_t_squared(temperature):
    x = torch.randn(8, 5, dtype=torch.float64) * 3
    t = torch.softmax(torch.randn(8, 5, dtype=torch.float64) * 2, 1)
    t[0] = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0])  # zeros in the target: 0 log 0 = 0
    want = F.kl_div(torch.log_softmax(x / temperature, 1), t, reduction="batchmean")
    (a, ga), (b, gb) = _both(
        lambda xi: losslab.kl_divergence_loss(xi, t, temperature=temperature),
        lambda xi: (
            F.kl_div(torch.log_softmax(xi / temperature, 1), t, reduction="batchmean")
            * temperature**2
        ),
        x,
    )
    _close(a, b)
    _close(ga, gb)
    assert torch.isclose(a, want * temperature**2)
    # From probabilities, the log is taken exactly: q = 1e-300 for a target of 1.
    q = torch.tensor([[1e-300, 1.0 - 1e-300]], dtype=torch.float64)
    one = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    got = losslab.kl_divergence_loss(q, one, from_logits=False)
    assert got.item() == pytest.approx(690.7755278982137, rel=1e-12)
    # A zero probability where the target has no mass costs nothing, never NaN.
    assert losslab.kl_divergence_loss(one, one, from_logits=False).item() == 0.0


def test_kl_ignored_rows_masks_and_shapes():
    x = torch.randn(6, 4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.softmax(torch.randn(6, 4, 3, dtype=torch.float64), 1)
    t[1, :, 2] = -1  # leave out sample (1, ., 2)
    mask = torch.ones(6, 3, dtype=torch.bool)
    mask[4, 0] = False
    keep = (t[:, 0] >= 0) & mask
    none = losslab.kl_divergence_loss(x, t, mask=mask, reduction="none")
    assert none.shape == (6, 3) and (none[~keep] == 0).all()
    want = F.kl_div(torch.log_softmax(x, 1), t.clamp(min=0), reduction="none").sum(1)
    _close(none[keep], want[keep])
    _close(losslab.kl_divergence_loss(x, t, mask=mask), want[keep].mean())
    loss = losslab.kl_divergence_loss(x, -torch.ones(6, 4, 3, dtype=torch.float64))
    loss.backward()
    assert loss.item() == 0 and (x.grad == 0).all()


# ---------------------------------------------------------------- soft F1


def _f1_by_hand(p, y, average):
    tp, fp, fn = (p * y).sum(0), (p * (1 - y)).sum(0), ((1 - p) * y).sum(0)
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    return (1 - 2 * tp / (2 * tp + fp + fn)).mean()


@pytest.mark.parametrize("average", ["macro", "micro"])
def test_soft_f1_matches_its_formula(average):
    g = torch.Generator().manual_seed(8)
    x = torch.randn(30, 4, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, 4, (30,), generator=g)
    one_hot = F.one_hot(y, 4).double()
    (a, ga), (b, gb) = _both(
        lambda xi: losslab.soft_f1_loss(xi, y, average=average),
        lambda xi: _f1_by_hand(torch.softmax(xi, 1), one_hot, average),
        x,
    )
    _close(a, b)
    _close(ga, gb)
    # One-hot float targets and index targets are the same thing.
    _close(losslab.soft_f1_loss(x, one_hot, average=average), a)
    # Probabilities (e.g. sigmoid outputs for multi-label data).
    multi = torch.randint(0, 2, (30, 4), generator=g).double()
    s = torch.sigmoid(x)
    _close(
        losslab.soft_f1_loss(s, multi, average=average, from_logits=False),
        _f1_by_hand(s, multi, average),
    )
    # A perfect, confident prediction scores about 0.
    assert losslab.soft_f1_loss(one_hot * 50, y, average=average).item() < 1e-12


def test_soft_f1_unknowns_and_empty_classes():
    g = torch.Generator().manual_seed(9)
    p = torch.rand(20, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (20, 5), generator=g).double()
    unknown = torch.rand(20, 5, generator=g) < 0.3
    marked = torch.where(unknown, -1.0, y)
    got = losslab.soft_f1_loss(p, marked, from_logits=False)
    known = ~unknown
    want = torch.stack(
        [
            1
            - 2
            * (p[known[:, c], c] * y[known[:, c], c]).sum()
            / (p[known[:, c], c].sum() + y[known[:, c], c].sum())
            for c in range(5)
        ]
    ).mean()
    _close(got, want)
    _close(losslab.soft_f1_loss(p, y, mask=known, from_logits=False), want)
    # From logits, unknown labels also take no part in the softmax: any logit there,
    # even NaN, changes nothing and gets no gradient.
    x = torch.randn(20, 5, generator=g, dtype=torch.float64)
    base = losslab.soft_f1_loss(x, marked)
    wild = torch.where(unknown, torch.tensor(float("nan"), dtype=torch.float64), x)
    wild.requires_grad_()
    again = losslab.soft_f1_loss(wild, marked)
    again.backward()
    _close(again, base)
    assert torch.isfinite(wild.grad).all() and (wild.grad[unknown] == 0).all()
    # A class with no known label and no predicted mass has no F1 and is left out.
    q = p.clone()
    q[:, 4] = 0
    absent = y.clone()
    absent[:, 4] = -1
    _close(
        losslab.soft_f1_loss(q, absent, from_logits=False),
        losslab.soft_f1_loss(p[:, :4], y[:, :4], from_logits=False),
    )
    # Nothing known: 0 with a zero gradient.
    x.requires_grad_()
    loss = losslab.soft_f1_loss(x, -torch.ones(20, 5))
    loss.backward()
    assert loss.item() == 0 and (x.grad == 0).all()


# ---------------------------------------------------------------- modules


def test_modules_call_the_functions():
    x = torch.randn(8, 3)
    y = torch.randint(-1, 3, (8,))
    mask = torch.rand(8) < 0.9
    w = torch.tensor([1.0, 2.0, 0.5])
    t = torch.softmax(torch.randn(8, 3), 1)
    multi = torch.randint(-1, 2, (8, 3))
    pairs = [
        (
            lnn.SoftmaxCrossEntropy(weight=w, label_smoothing=0.1)(x, y, mask),
            losslab.softmax_cross_entropy(x, y, weight=w, label_smoothing=0.1, mask=mask),
        ),
        (
            lnn.SoftmaxFocalLoss(gamma=1.0, alpha=w)(x, y, mask),
            losslab.softmax_focal_loss(x, y, gamma=1.0, alpha=w, mask=mask),
        ),
        (
            lnn.MultiLabelSoftmaxLoss(mode="per_positive")(x, multi),
            losslab.multilabel_softmax_loss(x, multi, mode="per_positive"),
        ),
        (
            lnn.KLDivergenceLoss(temperature=2.0)(x, t, mask),
            losslab.kl_divergence_loss(x, t, temperature=2.0, mask=mask),
        ),
        (lnn.SoftF1Loss(average="micro")(x, y), losslab.soft_f1_loss(x, y, average="micro")),
    ]
    for got, want in pairs:
        assert torch.equal(got, want)
    assert "alpha" in dict(lnn.SoftmaxFocalLoss(alpha=w).named_buffers())
    assert "weight" in dict(lnn.SoftmaxCrossEntropy(weight=w).named_buffers())


# ---------------------------------------------------------------- gradcheck

GRADCHECK = [
    (losslab.softmax_cross_entropy, {}),
    (losslab.softmax_cross_entropy, {"weight": True, "label_smoothing": 0.2}),
    (losslab.softmax_cross_entropy, {"soft": True}),
    (losslab.softmax_cross_entropy, {"soft": True, "weight": True, "label_smoothing": 0.1}),
    (losslab.softmax_focal_loss, {}),
    (losslab.softmax_focal_loss, {"gamma": 0.5, "alpha": True, "label_smoothing": 0.1}),
    (losslab.softmax_focal_loss, {"gamma": 1.5, "weight": True}),
    (losslab.multilabel_softmax_loss, {"mode": "normalized"}),
    (losslab.multilabel_softmax_loss, {"mode": "per_positive"}),
    (losslab.kl_divergence_loss, {}),
    (losslab.kl_divergence_loss, {"temperature": 2.5}),
]


@pytest.mark.parametrize("fn,kwargs", GRADCHECK)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck(fn, kwargs, reduction):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64) * 2
    kwargs = dict(kwargs)
    vector = torch.tensor([0.5, 2.0, 1.0, 0.3], dtype=torch.float64)
    for key in ("weight", "alpha"):
        if kwargs.get(key):
            kwargs[key] = vector
    if fn is losslab.multilabel_softmax_loss:
        t = torch.tensor([[1, 0, -1, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 1, 1, 1], [-1, 1, 0, 0]])
    elif kwargs.pop("soft", False) or fn is losslab.kl_divergence_loss:
        t = torch.softmax(torch.randn(5, 4, generator=g, dtype=torch.float64), 1)
        t[2] = -1
    else:
        t = torch.tensor([0, 3, -100, 1, 2])
    mask = torch.tensor([True, True, True, False, True])
    if fn is losslab.multilabel_softmax_loss:
        mask = mask[:, None]
    torch.autograd.gradcheck(
        lambda inp: fn(inp, t, mask=mask, reduction=reduction, **kwargs),
        (x.requires_grad_(),),
    )


@pytest.mark.parametrize("average", ["macro", "micro"])
@pytest.mark.parametrize("from_logits", [True, False])
def test_gradcheck_soft_f1(average, from_logits):
    g = torch.Generator().manual_seed(10)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64)
    if not from_logits:
        x = torch.sigmoid(x)
    y = torch.tensor([[1, 0, 0], [0, 1, -1], [0, 0, 1], [1, 0, 0], [-1, -1, -1], [0, 1, 0]])
    torch.autograd.gradcheck(
        lambda inp: losslab.soft_f1_loss(inp, y, average=average, from_logits=from_logits),
        (x.requires_grad_(),),
    )


def test_gradcheck_kl_from_probabilities():
    g = torch.Generator().manual_seed(11)
    q = torch.softmax(torch.randn(5, 4, generator=g, dtype=torch.float64), 1)
    t = torch.softmax(torch.randn(5, 4, generator=g, dtype=torch.float64), 1)
    t[1, 2] = 0.0  # no mass: costs nothing
    torch.autograd.gradcheck(
        lambda inp: losslab.kl_divergence_loss(inp, t, from_logits=False, reduction="none"),
        (q.requires_grad_(),),
    )


def test_second_derivatives_are_refused_not_wrong():
    # The hand-written backward passes are once-differentiable: differentiating them
    # again raises instead of returning a silently wrong Hessian.
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    for loss in (
        losslab.softmax_cross_entropy(x, y),
        losslab.multilabel_softmax_loss(x, F.one_hot(y, 3)),
    ):
        (grad,) = torch.autograd.grad(loss, x, create_graph=True)
        with pytest.raises(RuntimeError):
            grad.sum().backward()


# ---------------------------------------------------------------- random shapes


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    dim_pick=st.integers(0, 3),
    seed=st.integers(0, 2**31 - 1),
    eps=st.sampled_from([0.0, 0.1]),
    gamma=st.sampled_from([0.0, 0.5, 2.0]),
)
def test_random_shapes_match_torch_and_stay_finite(shape, dim_pick, seed, eps, gamma):
    g = torch.Generator().manual_seed(seed)
    dim = dim_pick % len(shape)
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 20).requires_grad_()
    sample = shape[:dim] + shape[dim + 1 :]
    y = torch.randint(-1, shape[dim], sample, generator=g)
    loss = losslab.softmax_focal_loss(x, y, gamma=gamma, dim=dim, label_smoothing=eps)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    if gamma == 0:
        want = F.cross_entropy(
            x.detach().movedim(dim, -1).reshape(-1, shape[dim]),
            y.reshape(-1),
            ignore_index=-1,
            label_smoothing=eps,
        )
        if (y >= 0).any():
            torch.testing.assert_close(loss.detach(), want)
        else:
            assert loss.item() == 0


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 6),
    c=st.integers(1, 7),
    seed=st.integers(0, 2**31 - 1),
    mode=st.sampled_from(["normalized", "per_positive"]),
)
def test_random_multilabel_is_finite_and_zero_at_unknowns(n, c, seed, mode):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, c, generator=g, dtype=torch.float64) * 30).requires_grad_()
    y = torch.randint(-1, 2, (n, c), generator=g)
    loss = losslab.multilabel_softmax_loss(x, y, mode=mode)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    assert (x.grad[y < 0] == 0).all()
    assert (x.grad[~(y == 1).any(1)] == 0).all()


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,error,words",
    [
        (
            lambda: losslab.softmax_cross_entropy(torch.zeros(4, 3), torch.tensor([0, 1, 3, 0])),
            ValueError,
            "`target` must hold class indices below C=3 (negative: ignored), got 3",
        ),
        (
            lambda: losslab.softmax_cross_entropy(torch.zeros(4, 3), torch.tensor([0, 1, 2])),
            ValueError,
            "`target` of class indices must have the shape of `input` without `dim` (4,), got (3,)",
        ),
        (
            lambda: losslab.softmax_cross_entropy(torch.zeros(4, 3), torch.zeros(4, 4)),
            ValueError,
            "`target` must have the shape of `input` (4, 3), got (4, 4)",
        ),
        (
            lambda: losslab.softmax_cross_entropy(
                torch.zeros(2, 3), torch.tensor([[0.5, 0.6, -0.1], [1.0, 0.0, 0.0]])
            ),
            ValueError,
            "`target` probabilities must not be negative",
        ),
        (
            lambda: losslab.softmax_cross_entropy(torch.zeros(4, 3), torch.zeros(4).long(), dim=2),
            ValueError,
            "`dim` must be in [-2, 1] for a 2-d `input`, got 2",
        ),
        (
            lambda: losslab.softmax_cross_entropy(
                torch.zeros(4, 3), torch.zeros(4).long(), weight=torch.ones(4)
            ),
            ValueError,
            "`weight` must have shape (C,) = (3,), one value per class, got (4,)",
        ),
        (
            lambda: losslab.softmax_cross_entropy(
                torch.zeros(4, 3), torch.zeros(4).long(), label_smoothing=1.5
            ),
            ValueError,
            "`label_smoothing` must be in [0, 1], got 1.5",
        ),
        (
            lambda: losslab.softmax_cross_entropy(
                torch.zeros(4, 3), torch.zeros(4).long(), mask=torch.ones(4, 3, dtype=torch.bool)
            ),
            ValueError,
            "`mask` must broadcast to the shape of `input` without `dim` (4,), got (4, 3)",
        ),
        (
            lambda: losslab.softmax_cross_entropy(
                torch.zeros(4, 3), torch.zeros(4).long(), reduction="sum_over_positives"
            ),
            ValueError,
            "`reduction` must be one of",
        ),
        (
            lambda: losslab.softmax_cross_entropy(torch.zeros(4, 3).long(), torch.zeros(4).long()),
            TypeError,
            "`input` must be a floating-point tensor",
        ),
        (
            lambda: losslab.softmax_focal_loss(torch.zeros(4, 3), torch.zeros(4, 3)),
            TypeError,
            "`target` must hold integer class indices",
        ),
        (
            lambda: losslab.softmax_focal_loss(torch.zeros(4, 3), torch.zeros(4).long(), gamma=-1),
            ValueError,
            "`gamma` must be in [0, inf), got -1",
        ),
        (
            lambda: losslab.softmax_focal_loss(
                torch.zeros(4, 3), torch.zeros(4).long(), alpha=torch.ones(2)
            ),
            ValueError,
            "`alpha` must have shape (C,) = (3,)",
        ),
        (
            lambda: losslab.multilabel_softmax_loss(
                torch.zeros(2, 3), torch.zeros(2, 3), mode="pal"
            ),
            ValueError,
            '`mode` must be one of "normalized", "per_positive", got \'pal\'',
        ),
        (
            lambda: losslab.multilabel_softmax_loss(torch.zeros(2, 3), torch.full((2, 3), 0.5)),
            ValueError,
            "`target` must hold 1 (positive), 0 (negative) or a negative value (unknown), "
            "got a value of 0.5",
        ),
        (
            lambda: losslab.multilabel_softmax_loss(torch.zeros(2, 3, 1), torch.zeros(2, 3, 1)),
            ValueError,
            "`input` must have shape (N, C), got (2, 3, 1)",
        ),
        (
            lambda: losslab.kl_divergence_loss(
                torch.full((2, 3), 0.5), torch.full((2, 3), 0.3), from_logits=False, temperature=2.0
            ),
            ValueError,
            "`temperature` applies to logits; with from_logits=False it must be 1, got 2.0",
        ),
        (
            lambda: losslab.kl_divergence_loss(torch.zeros(2, 3), torch.zeros(2, 3), temperature=0),
            ValueError,
            "`temperature` must be in (0, inf), got 0",
        ),
        (
            lambda: losslab.kl_divergence_loss(torch.zeros(2, 3), torch.zeros(2, 3).long()),
            TypeError,
            "`target` must be a floating-point tensor",
        ),
        (
            lambda: losslab.soft_f1_loss(torch.zeros(2, 3), torch.zeros(2, 3), average="weighted"),
            ValueError,
            '`average` must be one of "macro", "micro", got \'weighted\'',
        ),
        (
            lambda: losslab.soft_f1_loss(torch.zeros(3), torch.zeros(3)),
            ValueError,
            "`input` must have shape (N, C) or (N, C, d1, ...), got (3,)",
        ),
        (
            lambda: losslab.soft_f1_loss(torch.zeros(2, 3), torch.full((2, 3), 2.0)),
            ValueError,
            "`target` must be at most 1",
        ),
        (
            lambda: losslab.multi_hot(torch.tensor([0, 3]), 3),
            ValueError,
            "`indices` must be below num_classes=3 (negative: ignored), got 3",
        ),
        (
            lambda: losslab.multi_hot(torch.tensor([0.0, 1.0]), 3),
            TypeError,
            "`indices` must be an integer tensor, got torch.float32",
        ),
        (
            lambda: losslab.multi_hot(torch.tensor([0, 1]), 0),
            ValueError,
            "`num_classes` must be at least 1, got 0",
        ),
    ],
)
def test_errors_name_the_argument(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_reference_helpers_are_exact_at_a_745_nat_gap():
    # The references themselves: log p of a 745-nat gap is -e^-745 to 60 digits.
    from reference import log_softmax

    assert mp.almosteq(log_softmax([745.0, 0.0], 0), -mp.exp(-745), rel_eps=mp.mpf("1e-50"))
