"""The training loop of `losslab bench`: every candidate loss trains its own model at once.

One call of `fit` trains an ensemble (see `losslab.bench.models`) whose member m is
scored by candidate m's loss on candidate m's targets. All members see the same
mini-batches in the same order, drawn from a generator seeded by `seed`, so that a run is
reproducible: the same seed gives the same numbers.

A member whose loss turns non-finite (inf or NaN) is marked as diverged; its parameters
stop changing (its gradient is zeroed), so that it can never spill NaN into a report
number, and its test metrics are reported as missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .data import Dataset

# Not yet: the bench trains on the CPU only (data, models and losses are CPU tensors);
# its models are small enough that a GPU would mostly wait on Python, but a `device`
# argument here would let larger suites use one.


@dataclass(frozen=True)
class Candidate:
    """One row of a suite: a loss, how its model starts and what it trains on.

    Attributes:
        name: the row's name in the report ("focal-2+prior").
        loss: (logits of one model, its targets for the batch) -> a scalar loss.
        init: "default" (the layer's usual bias) or a float tensor or float: the prior
            probability per output from which `losslab.prior_bias` sets the final bias.
        scores: how test probabilities come from logits: "sigmoid", "softmax", or
            "sigmoid-normalised" (sigmoids divided by their sum, for one-vs-rest models
            scored as a distribution).
        target: which of the dataset's training-target variants it trains on.
        column: for suites whose rows repeat across settings (partial labels), the
            setting this model belongs to; "" otherwise.
    """

    name: str
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    init: object = "default"
    scores: str = "sigmoid"
    target: str = "default"
    column: str = ""


@dataclass
class Fit:
    """What one training run returns, for M candidates.

    Attributes:
        test_logits: (M, n_test, ...) float32 logits on the test set.
        curves: (M, epochs) mean training loss per epoch (NaN after divergence).
        diverged: M booleans, True where the loss became non-finite.
        first_losses: (M, k) the training loss of the first k steps, for the
            "diverges early" question.
    """

    test_logits: torch.Tensor
    curves: torch.Tensor
    diverged: list[bool]
    first_losses: torch.Tensor


def _set_output_bias(model: torch.nn.Module, candidates: Sequence[Candidate]) -> None:
    """Put each member's prior-bias init into its final bias."""
    import losslab

    bias = model.output_bias()
    with torch.no_grad():
        for m, cand in enumerate(candidates):
            if isinstance(cand.init, str):
                continue
            prior = torch.as_tensor(cand.init, dtype=torch.float32)
            value = losslab.prior_bias(prior)
            bias[m].copy_(torch.as_tensor(value).expand_as(bias[m]))


def _optimizer(params, name: str, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, fused=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"`optimizer` must be one of 'adam', 'sgd', got {name!r}")


def fit(
    model: torch.nn.Module,
    data: Dataset,
    candidates: Sequence[Candidate],
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str = "adam",
    on_epoch: Callable[[], None] | None = None,
    first_steps: int = 20,
) -> Fit:
    """Train `model` (an ensemble with one member per candidate) and score the test set.

    Args:
        model: an ensemble with `len(candidates)` members and an `output_bias()`.
        data: the suite's dataset.
        candidates: one per member, in member order.
        seed: seeds the mini-batch order.
        epochs: passes over the training set.
        batch_size: examples per step.
        lr: learning rate.
        optimizer: "adam" or "sgd" (momentum 0.9).
        on_epoch: called after every epoch (progress bars).
        first_steps: how many first-step losses to keep in `Fit.first_losses`.

    Returns:
        A `Fit`.
    """
    _set_output_bias(model, candidates)
    opt = _optimizer(model.parameters(), optimizer, lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(data.x_train)
    members = len(candidates)
    targets = [data.train_targets[c.target] for c in candidates]
    curves = torch.full((members, epochs), float("nan"))
    first = torch.full((members, first_steps), float("nan"))
    alive = torch.ones(members, dtype=torch.bool)
    step = 0

    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        sums = torch.zeros(members, dtype=torch.float64)
        batches = 0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            logits = model(data.x_train[idx])  # (M, B, ...)

            # One loss per member; their sum trains every member on its own loss.
            losses = torch.stack(
                [c.loss(logits[m], targets[m][idx]) for m, c in enumerate(candidates)]
            )
            finite = torch.isfinite(losses.detach())
            alive &= finite
            total = torch.where(alive, losses, 0.0).sum()
            opt.zero_grad(set_to_none=True)
            total.backward()
            if not bool(alive.all()):
                _freeze(model, ~alive)
            opt.step()

            sums += losses.detach().double()
            batches += 1
            if step < first_steps:
                first[:, step] = losses.detach()
            step += 1
        curves[:, epoch] = torch.where(alive, (sums / batches).float(), float("nan"))
        if on_epoch is not None:
            on_epoch()

    return Fit(
        test_logits=predict(model, data.x_test),
        curves=curves,
        diverged=[not bool(a) for a in alive],
        first_losses=first,
    )


def _freeze(model: torch.nn.Module, dead: torch.Tensor) -> None:
    """Zero the gradient of diverged members, so that their parameters stop changing."""
    for p in model.parameters():
        if p.grad is not None:
            p.grad[dead] = 0.0


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, *, chunk: int = 1024) -> torch.Tensor:
    """Test logits of every member, (M, n, ...), computed in chunks of `chunk` examples."""
    model.eval()
    return torch.cat([model(x[i : i + chunk]) for i in range(0, len(x), chunk)], dim=1)
