"""Run a suite over seeds and collect its numbers; no printing here (the CLI reports)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from .suites import Suite, available
from .train import Candidate, fit


def base_name(name: str) -> str:
    """The loss a row uses, without its init: "focal-2+prior" -> "focal-2"."""
    return name.removesuffix("+prior").removesuffix(" (no prior)")


def select(candidates: list[Candidate], losses: Iterable[str] | None) -> list[Candidate]:
    """The candidates named in `losses` (by row name or by loss name); all when None."""
    if losses is None:
        return candidates
    wanted = set(losses)
    return [c for c in candidates if c.name in wanted or base_name(c.name) in wanted]


@dataclass
class SuiteResult:
    """The numbers of one suite, ready for the report and for results.json.

    `values[row][metric]` holds one value per seed (NaN where the model diverged);
    `curves[label]` the mean training loss per epoch over the seeds where it stayed finite.
    """

    name: str
    title: str
    rows: list[str]
    metrics: list[str]
    higher: dict[str, bool]
    primary: list[str]
    seeds: list[int]
    epochs: int
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    diverged: dict[str, int] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    first_losses: dict[str, list[float]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0
    optimizer: str = "adam"


def run_suite(
    suite: Suite,
    *,
    seeds: Iterable[int],
    epochs: int,
    losses: Iterable[str] | None = None,
    on_epoch: Callable[[], None] | None = None,
) -> SuiteResult:
    """Train every selected candidate of `suite` once per seed and score it.

    Args:
        suite: the suite.
        seeds: one training run per seed; a seed fixes the data split and sampling, the
            shared initial weights and the mini-batch order.
        epochs: passes over the training set.
        losses: row or loss names to keep (None: all).
        on_epoch: called after every epoch of every seed (progress bars).

    Returns:
        A `SuiteResult`.
    """
    seeds = list(seeds)
    start = time.perf_counter()
    threads = torch.get_num_threads()
    if suite.threads is not None:
        torch.set_num_threads(suite.threads)
    try:
        return _run(suite, seeds, epochs, losses, on_epoch, start)
    finally:
        torch.set_num_threads(threads)


def _run(suite, seeds, epochs, losses, on_epoch, start) -> SuiteResult:
    result = SuiteResult(
        name=suite.name,
        title=suite.title,
        rows=[],
        metrics=list(suite.higher),
        higher=dict(suite.higher),
        primary=list(suite.primary),
        seeds=seeds,
        epochs=epochs,
        optimizer=suite.optimizer,
    )
    curve_sums: dict[str, list[torch.Tensor]] = {}
    for seed in seeds:
        data = suite.build(seed)
        candidates = select(suite.candidates(data), losses)
        if not candidates:
            break
        if not result.info:
            result.info = data.info
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = suite.model(len(candidates), data, gen)
        out = fit(
            model,
            data,
            candidates,
            seed=seed,
            epochs=epochs,
            batch_size=suite.batch_size,
            lr=suite.lr,
            optimizer=suite.optimizer,
            on_epoch=on_epoch,
        )
        for m, cand in enumerate(candidates):
            if cand.name not in result.rows:
                result.rows.append(cand.name)
            row = result.values.setdefault(cand.name, {})
            logits = out.test_logits[m]
            if out.diverged[m] or not bool(torch.isfinite(logits).all()):
                # A diverged model has no test metrics: NaN, counted in `diverged`.
                result.diverged[cand.name] = result.diverged.get(cand.name, 0) + 1
                keys = [cand.column] if cand.column else list(suite.higher)
                scores = {k: math.nan for k in keys}
            else:
                scores = suite.score(logits, cand, data)
            for k, v in scores.items():
                row.setdefault(k, []).append(float(v))
            label = cand.name + (f" ({cand.column})" if cand.column else "")
            curve_sums.setdefault(label, []).append(out.curves[m])
            if suite.name.startswith("dense"):
                result.first_losses.setdefault(label, []).append(out.first_losses[m].tolist())

    for label, curves in curve_sums.items():
        stacked = torch.stack(curves)
        mean = torch.nanmean(stacked, dim=0)
        result.curves[label] = [float(v) for v in mean]
    result.missing = _missing(suite)
    result.seconds = time.perf_counter() - start
    return result


def _missing(suite: Suite) -> list[str]:
    """Public losslab functions the suite would call but the installed version lacks."""
    needs = {
        "multiclass": ["softmax_cross_entropy", "softmax_focal_loss", "multi_hot"],
        "multilabel": ["multilabel_softmax_loss", "soft_f1_loss"],
        "partial": ["multilabel_softmax_loss"],
    }.get(suite.name, [])
    return [n for n in needs if not available(n)]
