"""Tests of the sigmoid family: values, references, gradients, masks, dtypes and errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losslab
from losslab import nn as lnn
from reference import EXTREME_LOGITS, assert_close_to_reference, asymmetric, focal, value_and_grad

# ---------------------------------------------------------------- mpmath references

# (losslab function, its keyword arguments, reference function, reference kwargs)
CASES = [
    ("bce", losslab.binary_cross_entropy, {}, focal, {}),
    ("bce-alpha", losslab.binary_cross_entropy, {"alpha": 0.25}, focal, {"alpha": 0.25}),
    (
        "bce-smooth",
        losslab.binary_cross_entropy,
        {"label_smoothing": 0.1},
        focal,
        {"smoothing": 0.1},
    ),
    ("focal-g2", losslab.focal_loss, {}, focal, {"alpha": 0.25, "gamma": 2.0}),
    ("focal-g0.5", losslab.focal_loss, {"gamma": 0.5, "alpha": None}, focal, {"gamma": 0.5}),
    ("focal-g0.2", losslab.focal_loss, {"gamma": 0.2}, focal, {"alpha": 0.25, "gamma": 0.2}),
    ("focal-g5", losslab.focal_loss, {"gamma": 5.0}, focal, {"alpha": 0.25, "gamma": 5.0}),
    (
        "asl-m0",
        losslab.asymmetric_loss,
        {"margin": 0.0, "gamma_pos": 1.0},
        asymmetric,
        {"margin": 0.0, "gamma_pos": 1.0},
    ),
    ("asl", losslab.asymmetric_loss, {}, asymmetric, {}),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("target", [1.0, 0.0, 0.3])
def test_matches_mpmath_at_extreme_logits(case, target, dtype):
    name, fn, kwargs, ref, ref_kwargs = case
    if name.startswith("asl") and target == 0.3:
        pytest.skip("the margin makes ASL's soft-target branch piecewise; covered by gradcheck")
    x = torch.tensor(EXTREME_LOGITS, dtype=dtype, requires_grad=True)
    t = torch.full_like(x, target)
    loss = fn(x, t, reduction="none", **kwargs)
    loss.sum().backward()
    assert torch.isfinite(x.grad).all(), f"{name}: non-finite gradient {x.grad}"
    for i, xi in enumerate(x.detach().tolist()):
        value, grad = value_and_grad(ref, xi, t=target, **ref_kwargs)
        assert_close_to_reference(loss[i].item(), value, dtype, f"{name} value at x={xi}")
        assert_close_to_reference(x.grad[i].item(), grad, dtype, f"{name} grad at x={xi}")


def test_gamma_below_one_has_finite_gradient_where_torchvision_gives_nan():
    x = torch.tensor([30.0, 100.0, -30.0, 1e4], requires_grad=True)
    t = torch.tensor([1.0, 1.0, 0.0, 1.0])

    # torchvision's formulation: (1 - p_t) ** gamma has an infinite derivative at p_t = 1.
    p = torch.sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    (ce * (1 - p_t) ** 0.5).sum().backward()
    assert torch.isnan(x.grad).any()

    x.grad = None
    losslab.focal_loss(x, t, gamma=0.5, reduction="sum").backward()
    assert torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- known values


def test_probability_logs_are_exact_not_clamped():
    p = torch.tensor([1e-300, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    t = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    got = losslab.binary_cross_entropy(p, t, from_logits=False, reduction="none")
    assert got[0].item() == pytest.approx(690.7755278982137, rel=1e-12)
    assert math.isinf(got[1].item()) and math.isinf(got[2].item())
    assert got[3].item() == 0.0 and got[4].item() == 0.0
    # torch clamps log at -100, which is what losslab avoids.
    assert F.binary_cross_entropy(p[:1], t[:1]).item() == 100.0


@pytest.mark.parametrize(
    "fn", [losslab.binary_cross_entropy, losslab.focal_loss, losslab.asymmetric_loss]
)
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_probabilities_of_exactly_0_and_1_give_finite_gradients(fn, gamma):
    # sigmoid(20.0) is exactly 1.0 in float32: a saturated output against its own label.
    p = torch.tensor([1.0, 0.0, 0.5], requires_grad=True)
    t = torch.tensor([1.0, 0.0, 1.0])
    kwargs = {"gamma": gamma} if fn is losslab.focal_loss else {"gamma_pos": gamma}
    if fn is losslab.binary_cross_entropy:
        kwargs = {}
    loss = fn(p, t, from_logits=False, reduction="none", **kwargs)
    assert loss[0] == 0 and loss[1] == 0
    loss.sum().backward()
    assert torch.isfinite(p.grad).all()
    # Against the wrong label the loss is infinite, its true value (ASL's margin caps
    # the negative side at -log m by design).
    wrong = fn(p.detach()[:2], 1 - t[:2], from_logits=False, reduction="none", **kwargs)
    assert torch.isinf(wrong[1])
    assert torch.isinf(wrong[0]) != (fn is losslab.asymmetric_loss)
    if fn is losslab.binary_cross_entropy:
        assert p.grad[0].item() == -1.0 and p.grad[1].item() == 1.0  # d(-log p)/dp at p = 1


def test_probabilities_agree_with_logits():
    x = torch.linspace(-20, 20, 41, dtype=torch.float64)
    t = torch.rand(41, dtype=torch.float64)
    for fn in (losslab.binary_cross_entropy, losslab.focal_loss, losslab.asymmetric_loss):
        a = fn(x, t, reduction="none")
        b = fn(torch.sigmoid(x), t, from_logits=False, reduction="none")
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-12)


def test_focal_gamma0_alpha_none_equals_bce_equals_torch():
    x = torch.randn(64, 5, dtype=torch.float64) * 10
    t = torch.randint(0, 2, (64, 5)).double()
    focal0 = losslab.focal_loss(x, t, gamma=0.0, alpha=None, reduction="none")
    bce = losslab.binary_cross_entropy(x, t, reduction="none")
    torch_bce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    assert torch.equal(focal0, bce)
    # torch loses relative digits at large logits; its absolute error stays near 1e-15.
    torch.testing.assert_close(bce, torch_bce, rtol=1e-12, atol=1e-14)


def test_bce_options_agree_with_torch():
    x = torch.randn(32, 4, dtype=torch.float64) * 3
    t = torch.rand(32, 4, dtype=torch.float64)
    w = torch.rand(32, 4, dtype=torch.float64)
    pw = torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=torch.float64)
    for reduction in ("none", "mean", "sum"):
        torch.testing.assert_close(
            losslab.binary_cross_entropy(x, t, weight=w, pos_weight=pw, reduction=reduction),
            F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=reduction),
        )


def test_focal_is_at_most_bce_and_matches_torchvision_formula():
    x = torch.randn(1000, dtype=torch.float64) * 5
    t = torch.randint(0, 2, (1000,)).double()
    for gamma in (0.5, 1.0, 2.0, 5.0):
        focal = losslab.focal_loss(x, t, gamma=gamma, alpha=None, reduction="none")
        bce = losslab.binary_cross_entropy(x, t, reduction="none")
        assert (focal <= bce).all(), "focal loss must never exceed BCE"
    # torchvision's formula with alpha=0.25, gamma=2 on moderate logits.
    p = torch.sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    tv = (0.25 * t + 0.75 * (1 - t)) * ce * (1 - p_t) ** 2
    torch.testing.assert_close(losslab.focal_loss(x, t, reduction="none"), tv)


def test_asymmetric_loss_limits():
    x = torch.tensor([-5.0, 0.0, 50.0], dtype=torch.float64)
    zeros = torch.zeros(3, dtype=torch.float64)
    got = losslab.asymmetric_loss(x, zeros, gamma_neg=0.0, reduction="none")
    # p < m costs nothing; a saturated negative costs at most -log m.
    assert got[0].item() == 0.0
    assert got[2].item() == pytest.approx(-math.log(0.05), rel=1e-12)
    # margin 0 and equal gammas without alpha: focal loss.
    x = torch.randn(50, dtype=torch.float64)
    t = torch.randint(0, 2, (50,)).double()
    torch.testing.assert_close(
        losslab.asymmetric_loss(x, t, gamma_pos=2.0, gamma_neg=2.0, margin=0.0, reduction="none"),
        losslab.focal_loss(x, t, gamma=2.0, alpha=None, reduction="none"),
    )


def test_prior_bias_and_label_priors():
    assert losslab.prior_bias(0.01) == pytest.approx(-4.59511985013459, rel=1e-12)
    priors = torch.tensor([1e-12, 0.5, 1 - 1e-9], dtype=torch.float64)
    torch.testing.assert_close(
        losslab.prior_bias(priors),
        torch.tensor(
            [math.log(1e-12 / (1 - 1e-12)), 0.0, math.log((1 - 1e-9) / 1e-9)], dtype=torch.float64
        ),
    )
    # The initial sigmoid output equals the prior.
    assert torch.sigmoid(torch.tensor(losslab.prior_bias(0.01))).item() == pytest.approx(0.01)
    y = torch.tensor([[1, -1], [0, -1], [0, -1], [0, 1]])
    torch.testing.assert_close(losslab.label_priors(y), torch.tensor([1.5 / 5, 1.5 / 2]))
    torch.testing.assert_close(
        losslab.label_priors(y, pseudocount=1e-9), torch.tensor([0.25, 1.0]), atol=1e-8, rtol=0
    )


# ---------------------------------------------------------------- masks and reductions

ALL_LOSSES = [losslab.binary_cross_entropy, losslab.focal_loss, losslab.asymmetric_loss]


@pytest.mark.parametrize("fn", ALL_LOSSES)
def test_masked_equals_indexed(fn):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 6, generator=g, dtype=torch.float64)
    t = torch.randint(0, 2, (20, 6), generator=g).double()
    unknown = torch.rand(20, 6, generator=g) < 0.3
    mask = torch.rand(20, 6, generator=g) < 0.8
    keep = ~unknown & mask
    t_marked = torch.where(unknown, -1.0, t)
    for reduction in ("mean", "sum"):
        got = fn(x, t_marked, mask=mask, reduction=reduction)
        want = fn(x[keep], t[keep], reduction=reduction)
        torch.testing.assert_close(got, want)
    none = fn(x, t_marked, mask=mask, reduction="none")
    assert (none[~keep] == 0).all()
    torch.testing.assert_close(none[keep], fn(x[keep], t[keep], reduction="none"))


@pytest.mark.parametrize("fn", ALL_LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "sum_over_positives", "none"])
def test_all_excluded_gives_zero_and_zero_gradient(fn, reduction):
    x = torch.randn(4, 3, requires_grad=True)
    t = -torch.ones(4, 3)
    loss = fn(x, t, reduction=reduction)
    assert (loss == 0).all()
    loss.sum().backward()
    assert (x.grad == 0).all()
    x.grad = None
    fn(
        x, torch.ones(4, 3), mask=torch.zeros(4, 3, dtype=torch.bool), reduction=reduction
    ).sum().backward()
    assert (x.grad == 0).all()


def test_sum_over_positives_divides_by_positive_count():
    x = torch.randn(100, dtype=torch.float64)
    t = torch.zeros(100, dtype=torch.float64)
    t[:7] = 1
    t[50:60] = -1  # unknown: neither counted nor a positive
    got = losslab.focal_loss(x, t, reduction="sum_over_positives")
    want = losslab.focal_loss(x, t, reduction="sum") / 7
    torch.testing.assert_close(got, want)
    zero_pos = losslab.focal_loss(
        x, torch.zeros(100, dtype=torch.float64), reduction="sum_over_positives"
    )
    torch.testing.assert_close(
        zero_pos, losslab.focal_loss(x, torch.zeros(100, dtype=torch.float64), reduction="sum")
    )


def test_nan_input_propagates_and_excluded_nan_does_not():
    x = torch.tensor([float("nan"), 1.0])
    assert torch.isnan(losslab.focal_loss(x, torch.tensor([1.0, 0.0])))
    assert torch.isnan(losslab.binary_cross_entropy(x, torch.tensor([0.0, 0.0])))
    # An excluded element is left out entirely, as if indexed away.
    assert torch.isfinite(losslab.binary_cross_entropy(x, torch.tensor([-1.0, 0.0])))


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    seed=st.integers(0, 2**31 - 1),
    gamma=st.floats(0, 5),
    fn_index=st.integers(0, 2),
)
def test_random_shapes_and_masks(shape, seed, gamma, fn_index):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 20).requires_grad_()
    t = torch.randint(-1, 2, shape, generator=g).double()
    mask = torch.rand(shape, generator=g) < 0.7
    fn = ALL_LOSSES[fn_index]
    kwargs = {"gamma": gamma} if fn is losslab.focal_loss else {}
    loss = fn(x, t, mask=mask, reduction="mean", **kwargs)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    keep = mask & (t >= 0)
    assert (x.grad[~keep] == 0).all()
    if keep.any():
        torch.testing.assert_close(loss, fn(x.detach()[keep], t[keep], **kwargs))
    else:
        assert loss.item() == 0


# ---------------------------------------------------------------- gradcheck

GRADCHECK = [
    (losslab.binary_cross_entropy, {}),
    (losslab.binary_cross_entropy, {"alpha": 0.3, "label_smoothing": 0.1, "pos_weight": True}),
    (losslab.binary_cross_entropy, {"from_logits": False}),
    (losslab.focal_loss, {}),
    (losslab.focal_loss, {"gamma": 0.5, "alpha": None}),
    (losslab.focal_loss, {"from_logits": False, "gamma": 1.5}),
    (losslab.asymmetric_loss, {}),
    (losslab.asymmetric_loss, {"gamma_pos": 1.0, "margin": 0.0}),
    (losslab.asymmetric_loss, {"from_logits": False, "margin": 0.1}),
]


@pytest.mark.parametrize("fn,kwargs", GRADCHECK)
@pytest.mark.parametrize("reduction", ["mean", "sum_over_positives", "none"])
def test_gradcheck(fn, kwargs, reduction):
    g = torch.Generator().manual_seed(1)
    kwargs = dict(kwargs)
    from_logits = kwargs.get("from_logits", True)
    raw = torch.randn(6, 4, generator=g, dtype=torch.float64) * 3
    x = raw if from_logits else torch.sigmoid(raw).clamp(0.15, 0.85)
    t = torch.rand(6, 4, generator=g, dtype=torch.float64)
    t[0, 0], t[1, 1], t[2, 2] = -1.0, 1.0, 0.0
    mask = torch.rand(6, 4, generator=g) < 0.8
    weight = torch.rand(6, 4, generator=g, dtype=torch.float64) + 0.5
    if kwargs.pop("pos_weight", False):
        kwargs["pos_weight"] = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    torch.autograd.gradcheck(
        lambda inp: fn(inp, t, weight=weight, mask=mask, reduction=reduction, **kwargs),
        (x.requires_grad_(),),
    )


# ---------------------------------------------------------------- dtypes and devices


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("fn", ALL_LOSSES)
def test_half_inputs_computed_in_float32(fn, dtype):
    x = (torch.randn(50) * 8).to(dtype)
    t = torch.randint(0, 2, (50,)).to(dtype)
    got = fn(x, t, reduction="none")
    assert got.dtype == dtype
    want = fn(x.float(), t.float(), reduction="none")
    assert torch.equal(got, want.to(dtype))
    x.requires_grad_()
    fn(x, t).backward()
    assert x.grad.dtype == dtype


def test_float64_stays_float64_and_targets_may_be_int_or_bool():
    x = torch.randn(5, dtype=torch.float64)
    assert losslab.focal_loss(x, torch.tensor([1, 0, 1, 0, -1])).dtype == torch.float64
    a = losslab.binary_cross_entropy(x, torch.tensor([True, False, True, False, False]))
    b = losslab.binary_cross_entropy(x, torch.tensor([1.0, 0, 1, 0, 0], dtype=torch.float64))
    assert torch.equal(a, b)


# ---------------------------------------------------------------- modules


def test_modules_call_the_functions():
    x = torch.randn(8, 3)
    t = torch.randint(-1, 2, (8, 3)).float()
    mask = torch.rand(8, 3) < 0.9
    pw = torch.tensor([1.0, 2.0, 3.0])
    pairs = [
        (
            lnn.BinaryCrossEntropy(pos_weight=pw, alpha=0.4),
            losslab.binary_cross_entropy(x, t, pos_weight=pw, alpha=0.4, mask=mask),
        ),
        (lnn.FocalLoss(gamma=1.0), losslab.focal_loss(x, t, gamma=1.0, mask=mask)),
        (lnn.AsymmetricLoss(margin=0.1), losslab.asymmetric_loss(x, t, margin=0.1, mask=mask)),
    ]
    for module, want in pairs:
        assert torch.equal(module(x, t, mask), want)
    assert "pos_weight" in dict(pairs[0][0].named_buffers())


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,error,words",
    [
        (
            lambda: losslab.binary_cross_entropy(torch.zeros(8, 80), torch.zeros(8, 81)),
            ValueError,
            "`target` must have the shape of `input` (8, 80), got (8, 81)",
        ),
        (
            lambda: losslab.binary_cross_entropy(torch.zeros(3), torch.tensor([0, 1, 2])),
            ValueError,
            "`target` must be at most 1",
        ),
        (
            lambda: losslab.binary_cross_entropy(
                torch.tensor([0.5, 1.5]), torch.zeros(2), from_logits=False
            ),
            ValueError,
            "`input` must be at most 1",
        ),
        (
            lambda: losslab.binary_cross_entropy(
                torch.tensor([-0.5, 0.5]), torch.zeros(2), from_logits=False
            ),
            ValueError,
            "`input` must be at least 0",
        ),
        (
            lambda: losslab.focal_loss(torch.zeros(2), torch.zeros(2), alpha=1.5),
            ValueError,
            "`alpha` must be in [0, 1], got 1.5",
        ),
        (
            lambda: losslab.focal_loss(torch.zeros(2), torch.zeros(2), gamma=-1),
            ValueError,
            "`gamma` must be in [0, inf), got -1",
        ),
        (
            lambda: losslab.asymmetric_loss(torch.zeros(2), torch.zeros(2), margin=1.0),
            ValueError,
            "`margin` must be in [0, 1)",
        ),
        (
            lambda: losslab.focal_loss(torch.zeros(2), torch.zeros(2), reduction="avg"),
            ValueError,
            "`reduction` must be one of",
        ),
        (
            lambda: losslab.focal_loss(torch.zeros(2, dtype=torch.long), torch.zeros(2)),
            TypeError,
            "`input` must be a floating-point tensor, got torch.int64",
        ),
        (
            lambda: losslab.focal_loss([0.0], torch.zeros(1)),
            TypeError,
            "`input` must be a torch.Tensor, got list",
        ),
        (
            lambda: losslab.focal_loss(torch.zeros(2), torch.zeros(2), mask=torch.ones(2)),
            TypeError,
            "`mask` must be a boolean tensor",
        ),
        (
            lambda: losslab.focal_loss(
                torch.zeros(2, 3), torch.zeros(2, 3), mask=torch.ones(4, dtype=torch.bool)
            ),
            ValueError,
            "`mask` must broadcast to the shape of `input` (2, 3), got (4,)",
        ),
        (
            lambda: losslab.binary_cross_entropy(
                torch.zeros(2, 3), torch.zeros(2, 3), pos_weight=torch.ones(4)
            ),
            ValueError,
            "`pos_weight` must broadcast",
        ),
        (
            lambda: losslab.binary_cross_entropy(
                torch.zeros(2), torch.zeros(2), label_smoothing=1.0
            ),
            ValueError,
            "`label_smoothing` must be in [0, 1)",
        ),
        (
            lambda: losslab.binary_cross_entropy(torch.zeros(2), torch.zeros(2), from_logits="yes"),
            TypeError,
            "`from_logits` must be a bool",
        ),
        (lambda: losslab.prior_bias(0.0), ValueError, "`prior` must be in (0, 1), got 0.0"),
        (
            lambda: losslab.prior_bias(torch.tensor([0.5, 1.0])),
            ValueError,
            "`prior` must hold probabilities in (0, 1)",
        ),
        (
            lambda: losslab.label_priors(torch.tensor([[2, 0]])),
            ValueError,
            "`target` must be at most 1",
        ),
    ],
)
def test_errors_name_the_argument(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_module_rejects_unknown_arguments_and_moves_tensor_options():
    with pytest.raises(TypeError, match="unexpected argument `gama`"):
        lnn.FocalLoss(gama=2.0)
    module = lnn.BinaryCrossEntropy(pos_weight=torch.tensor([2.0]))
    assert module.to(torch.float64).pos_weight.dtype == torch.float64
    x, y = torch.tensor([1.0, -2.0]), torch.tensor([1.0, 3.0])
    assert torch.equal(lnn.MeanSquaredError()(x, y), losslab.mean_squared_error(x, y))
