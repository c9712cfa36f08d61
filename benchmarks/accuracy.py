"""Largest relative error of the sigmoid-family losses against an mpmath reference.

Run: .venv/bin/python benchmarks/accuracy.py

For each loss, dtype and target in {0, 1, 0.3}, evaluates value and gradient over the
logits of tests/reference.py (from -1e4 to 1e4) and reports the worst relative error
where the reference is a normal number of that dtype. Needs mpmath (the `test` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import losslab  # noqa: E402
from reference import (  # noqa: E402
    EXTREME_LOGITS,
    TINY,
    asymmetric,
    focal,
    relative_error,
    value_and_grad,
)

CASES = [
    ("binary_cross_entropy", losslab.binary_cross_entropy, {}, focal, {}),
    ("focal_loss gamma=2", losslab.focal_loss, {}, focal, {"alpha": 0.25, "gamma": 2.0}),
    (
        "focal_loss gamma=0.5",
        losslab.focal_loss,
        {"gamma": 0.5},
        focal,
        {"alpha": 0.25, "gamma": 0.5},
    ),
    ("asymmetric_loss", losslab.asymmetric_loss, {}, asymmetric, {}),
]


def worst(fn, kwargs, ref, ref_kwargs, dtype):
    worst_value = worst_grad = 0.0
    for target in (0.0, 1.0, 0.3):
        if ref is asymmetric and target == 0.3:
            continue
        x = torch.tensor(EXTREME_LOGITS, dtype=dtype, requires_grad=True)
        loss = fn(x, torch.full_like(x, target), reduction="none", **kwargs)
        loss.sum().backward()
        for i, xi in enumerate(x.detach().tolist()):
            value, grad = value_and_grad(ref, xi, t=target, **ref_kwargs)
            if abs(value) >= TINY[dtype]:
                worst_value = max(worst_value, relative_error(loss[i].item(), value))
            if abs(grad) >= TINY[dtype]:
                worst_grad = max(worst_grad, relative_error(x.grad[i].item(), grad))
    return worst_value, worst_grad


def main() -> None:
    print(f"{'loss':24s} {'dtype':8s} {'value rel. err':>15s} {'grad rel. err':>15s}")
    for name, fn, kwargs, ref, ref_kwargs in CASES:
        for dtype in (torch.float64, torch.float32):
            v, g = worst(fn, kwargs, ref, ref_kwargs, dtype)
            print(f"{name:24s} {str(dtype)[6:]:8s} {v:15.3e} {g:15.3e}")


if __name__ == "__main__":
    main()
