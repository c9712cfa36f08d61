"""Tests of the regression losses: values, torch agreement, masks, reductions, gradients, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import losslab

LOSSES = [
    losslab.mean_absolute_error,
    losslab.mean_squared_error,
    losslab.mean_squared_log_error,
    losslab.poisson_nll_loss,
]
IDS = ["mae", "mse", "msle", "poisson"]


def _data(seed=0, shape=(6, 5), dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=dtype) * 3
    t = torch.poisson(torch.full(shape, 2.0, dtype=dtype), generator=g)
    return x, t


# ---------------------------------------------------------------- known values


def test_values_agree_with_torch_and_sklearn():
    from sklearn.metrics import mean_squared_log_error as sk_msle

    x, t = _data()
    assert torch.allclose(losslab.mean_absolute_error(x, t), F.l1_loss(x, t))
    assert torch.allclose(losslab.mean_squared_error(x, t), F.mse_loss(x, t))
    assert losslab.mean_squared_log_error(x, t).item() == pytest.approx(
        sk_msle(t.flatten().numpy(), x.flatten().numpy()), rel=1e-12
    )
    assert torch.allclose(losslab.poisson_nll_loss(x, t), F.poisson_nll_loss(x, t))
    rate = x + 0.5
    assert torch.allclose(
        losslab.poisson_nll_loss(rate, t, from_log_rate=False),
        F.poisson_nll_loss(rate, t, log_input=False, eps=0.0),
    )


def test_regression_tour_values():
    target = torch.tensor(100.0, dtype=torch.float64)
    for pred, mae, mse in [(150.0, 50.0, 2500.0), (101.0, 1.0, 1.0), (0.0, 100.0, 1e4)]:
        x = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
        assert losslab.mean_absolute_error(x, target).item() == mae
        (g_mae,) = torch.autograd.grad(losslab.mean_absolute_error(x, target), x)
        assert abs(g_mae.item()) == 1.0  # constant size
        (g_mse,) = torch.autograd.grad(losslab.mean_squared_error(x, target), x)
        assert losslab.mean_squared_error(x, target).item() == mse
        assert g_mse.item() == 2 * (pred - 100.0)  # shrinks near the minimum


def test_poisson_full_is_the_log_probability():
    k = torch.arange(0.0, 30.0, dtype=torch.float64)
    rate = torch.tensor(27.4, dtype=torch.float64)
    nll = losslab.poisson_nll_loss(torch.log(rate).expand_as(k), k, full=True, reduction="none")
    expected = [k_ * math.log(27.4) - 27.4 - math.lgamma(k_ + 1) for k_ in k.tolist()]
    assert torch.allclose(-nll, torch.tensor(expected, dtype=torch.float64), rtol=1e-13)
    from_rate = losslab.poisson_nll_loss(
        rate.expand_as(k), k, from_log_rate=False, full=True, reduction="none"
    )
    assert torch.allclose(from_rate, nll, rtol=1e-13)


def test_poisson_from_rate_zero_is_exact_not_clamped():
    rate = torch.tensor([0.0, 0.0, 1e-300], dtype=torch.float64, requires_grad=True)
    k = torch.tensor([0.0, 2.0, 1.0], dtype=torch.float64)
    loss = losslab.poisson_nll_loss(rate, k, from_log_rate=False, reduction="none")
    assert loss[0].item() == 0.0
    assert loss[1].item() == math.inf
    assert loss[2].item() == pytest.approx(690.7755278982137, rel=1e-12)
    loss[0].backward()
    assert rate.grad[0].item() == 1.0  # d/d(lambda) of lambda - 0 * log(lambda)


def test_poisson_from_large_log_rate_is_exact():
    x = torch.tensor([-700.0, 0.0, 50.0], dtype=torch.float64)
    k = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)
    loss = losslab.poisson_nll_loss(x, k, reduction="none")
    assert loss.tolist() == pytest.approx([math.exp(-700), 1.0, math.exp(50) - 150], rel=1e-13)


def test_msle_is_relative():
    a = losslab.mean_squared_log_error(torch.tensor([1099.0]), torch.tensor([999.0]))
    b = losslab.mean_squared_log_error(torch.tensor([10.0]), torch.tensor([9.0]))
    assert a.item() == pytest.approx(b.item(), rel=1e-5)  # 1100/1000 = 11/10


# ---------------------------------------------------------------- masks and reductions


@pytest.mark.parametrize("fn", LOSSES, ids=IDS)
def test_mask_equals_indexing(fn):
    x, t = _data(1)
    mask = torch.rand(x.shape, generator=torch.Generator().manual_seed(3)) > 0.4
    masked = fn(x, t, mask=mask)
    assert torch.allclose(masked, fn(x[mask], t[mask]), rtol=1e-13)
    assert torch.allclose(
        fn(x, t, mask=mask, reduction="sum"), fn(x[mask], t[mask], reduction="sum")
    )
    none = fn(x, t, mask=mask, reduction="none")
    assert (none[~mask] == 0).all()


@pytest.mark.parametrize(
    "fn", [losslab.mean_squared_log_error, losslab.poisson_nll_loss], ids=["msle", "poisson"]
)
def test_negative_target_is_unknown_for_count_losses(fn):
    x, t = _data(2)
    t[0, :3] = -1
    t[2, 1] = -100
    known = t >= 0
    assert torch.allclose(fn(x, t), fn(x[known], t[known]), rtol=1e-13)


@pytest.mark.parametrize(
    "fn", [losslab.mean_absolute_error, losslab.mean_squared_error], ids=["mae", "mse"]
)
def test_negative_target_is_a_value_for_mae_and_mse(fn):
    x = torch.tensor([0.0, 1.0])
    t = torch.tensor([-1.0, -2.0])
    assert fn(x, t, reduction="none").tolist() == [
        pytest.approx(v) for v in ([1.0, 3.0] if fn is losslab.mean_absolute_error else [1.0, 9.0])
    ]


@pytest.mark.parametrize("fn", LOSSES, ids=IDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_all_excluded_gives_zero_and_zero_gradient(fn, reduction):
    x, t = _data(4)
    x.requires_grad_(True)
    loss = fn(x, t, mask=torch.zeros_like(t, dtype=torch.bool), reduction=reduction)
    loss.sum().backward()
    assert (loss == 0).all() and (x.grad == 0).all()


@pytest.mark.parametrize("fn", LOSSES, ids=IDS)
def test_weight_scales_without_changing_the_mean_divisor(fn):
    x, t = _data(5)
    w = torch.linspace(0.5, 2.0, 5, dtype=torch.float64)
    per = fn(x, t, reduction="none")
    assert torch.allclose(fn(x, t, weight=w), (per * w).mean(), rtol=1e-13)


# ---------------------------------------------------------------- gradients and dtypes


@pytest.mark.parametrize(
    "fn, kwargs",
    [
        (losslab.mean_absolute_error, {}),
        (losslab.mean_squared_error, {}),
        (losslab.mean_squared_log_error, {}),
        (losslab.poisson_nll_loss, {}),
        (losslab.poisson_nll_loss, {"from_log_rate": False, "full": True}),
    ],
    ids=["mae", "mse", "msle", "poisson-log", "poisson-rate"],
)
def test_gradcheck(fn, kwargs):
    x, t = _data(6, shape=(3, 4))
    x = (x + 0.1).requires_grad_(True)  # away from |x - t| = 0 and rate 0
    t[0, 0] = -1
    mask = torch.ones_like(t, dtype=torch.bool)
    mask[1, 2] = False
    assert torch.autograd.gradcheck(lambda x_: fn(x_, t, mask=mask, **kwargs), (x,))


@pytest.mark.parametrize("fn", LOSSES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_dtypes_are_preserved(fn, dtype):
    x, t = _data(7)
    got = fn(x.to(dtype), t)
    assert got.dtype == dtype
    assert got.item() == pytest.approx(fn(x, t).item(), rel=1e-2)


def test_nan_input_propagates():
    for fn in LOSSES:
        x, t = _data(8)
        x[0, 0] = math.nan
        assert math.isnan(fn(x, t).item())


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: losslab.mean_squared_error([1.0], torch.ones(1)), TypeError, "`input` must be a"),
        (
            lambda: losslab.mean_squared_error(torch.ones(3), torch.ones(4)),
            ValueError,
            r"`target` must have the shape of `input` \(3,\), got \(4,\)",
        ),
        (
            lambda: losslab.mean_absolute_error(torch.ones(3), torch.ones(3), reduction="avg"),
            ValueError,
            "`reduction` must be one of",
        ),
        (
            lambda: losslab.mean_absolute_error(torch.ones(3), torch.ones(3, dtype=torch.bool)),
            TypeError,
            "`target` must be a real",
        ),
        (
            lambda: losslab.mean_squared_error(torch.ones(3), torch.ones(3), mask=torch.ones(3)),
            TypeError,
            "`mask` must be a boolean",
        ),
        (
            lambda: losslab.mean_squared_log_error(-torch.ones(3), torch.ones(3)),
            ValueError,
            "`input` must be at least 0",
        ),
        (
            lambda: losslab.poisson_nll_loss(-torch.ones(3), torch.ones(3), from_log_rate=False),
            ValueError,
            "`input` must be at least 0 .a rate",
        ),
        (
            lambda: losslab.poisson_nll_loss(torch.ones(3), torch.ones(3), full=1),
            TypeError,
            "`full` must be a bool",
        ),
    ],
)
def test_errors_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
