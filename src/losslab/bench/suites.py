"""The five suites of `losslab bench`: data, candidate losses, model, metrics, budget.

Every loss is called through losslab's public API (`import losslab`), as a user would.
A candidate whose loss is missing from the installed losslab (an older version) is left
out and named in the report, rather than failing the whole run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

import losslab

from . import data as D
from . import metrics as M
from .models import FCNEnsemble, MLPEnsemble
from .train import Candidate


@dataclass(frozen=True)
class Budget:
    """Seeds and epochs of a quick (default) or full run."""

    seeds: int
    epochs: int


@dataclass(frozen=True)
class Suite:
    """One question the benchmark answers.

    Attributes:
        name: the `--suite` name.
        title: one line for the report.
        build: seed -> Dataset.
        candidates: Dataset -> the candidate losses (rows of the table).
        model: (members, dataset, generator) -> an ensemble.
        score: (test logits of one member, its candidate, dataset) -> {metric: value}.
        higher: metric -> True when higher is better.
        primary: the metrics that the one-line finding speaks about.
        quick, full: the budgets of a default and a `--full` run.
        batch_size, lr, optimizer: training settings.
        threads: torch threads while the suite trains (see the comment below).
    """

    name: str
    title: str
    build: Callable[[int], D.Dataset]
    candidates: Callable[[D.Dataset], list[Candidate]]
    model: Callable[[int, D.Dataset, torch.Generator], torch.nn.Module]
    score: Callable[[torch.Tensor, Candidate, D.Dataset], dict[str, float]]
    higher: dict[str, bool]
    primary: tuple[str, ...]
    quick: Budget
    full: Budget
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: str = "adam"
    # Threads for torch during this suite; None keeps the caller's setting. One thread by
    # default: the tensors are so small that handing work to a second thread costs more
    # than it saves (a 64-element log-sigmoid takes 0.7 ms on 2 threads, 5 us on one), and
    # on a busy machine 2 threads ran the partial-label suite 8 times slower than one.
    threads: int | None = 1


def available(name: str) -> bool:
    """Whether the installed losslab has the public function `name`."""
    return callable(getattr(losslab, name, None))


def _mlp(hidden: tuple[int, ...]):
    def make(members: int, data: D.Dataset, generator: torch.Generator) -> torch.nn.Module:
        outputs = data.y_test.shape[1] if data.y_test.dim() == 2 else int(data.y_test.max()) + 1
        return MLPEnsemble(members, data.x_train.shape[1], hidden, outputs, generator=generator)

    return make


def _fcn(members: int, data: D.Dataset, generator: torch.Generator) -> torch.nn.Module:
    return FCNEnsemble(members, D.NUM_DIGITS, generator=generator)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


# ---------------------------------------------------------------------------------------
# binary, imbalanced


def binary_candidates(data: D.Dataset) -> list[Candidate]:
    """BCE, inverse-frequency balanced BCE, focal (gamma 0.5, 1, 2), ASL; each twice:
    with the usual init and with the final bias at the training prior (`prior_bias`)."""
    y = data.train_targets["default"]
    prior = losslab.label_priors(y)  # (1,), the share of positives (with a pseudocount)
    alpha = round(1.0 - float(prior), 4)  # weights positives by the inverse frequency
    bce = losslab.binary_cross_entropy
    base = [
        ("bce", lambda x, t: bce(x, t)),
        ("bce-balanced", lambda x, t: bce(x, t, alpha=alpha)),
        ("focal-0.5", lambda x, t: losslab.focal_loss(x, t, gamma=0.5, alpha=None)),
        ("focal-1", lambda x, t: losslab.focal_loss(x, t, gamma=1.0, alpha=None)),
        ("focal-2", lambda x, t: losslab.focal_loss(x, t, gamma=2.0, alpha=None)),
        ("asl", lambda x, t: losslab.asymmetric_loss(x, t)),
    ]
    out = []
    for name, fn in base:
        out.append(Candidate(name, fn))
        out.append(Candidate(name + "+prior", fn, init=prior))
    return out


def binary_score(logits: torch.Tensor, cand: Candidate, data: D.Dataset) -> dict[str, float]:
    s, y = _np(logits[:, 0]), _np(data.y_test[:, 0])
    # Logits rank like sigmoid probabilities and keep their order where sigmoid rounds to 1.
    return {"AP": M.average_precision(y, s), "best F1": M.best_f1(y, s)}


# ---------------------------------------------------------------------------------------
# multiclass


def multiclass_candidates(data: D.Dataset) -> list[Candidate]:
    """Softmax CE, CE with label smoothing 0.1, softmax focal (gamma 2), one BCE per class."""
    out = []
    if available("softmax_cross_entropy"):
        ce = losslab.softmax_cross_entropy
        out.append(Candidate("ce", lambda x, t: ce(x, t), scores="softmax"))
        out.append(
            Candidate("ce-smooth-0.1", lambda x, t: ce(x, t, label_smoothing=0.1), scores="softmax")
        )
    if available("softmax_focal_loss"):
        out.append(
            Candidate(
                "softmax-focal-2",
                lambda x, t: losslab.softmax_focal_loss(x, t, gamma=2.0),
                scores="softmax",
            )
        )
    if available("multi_hot"):

        def bce_per_class(x, t):
            return losslab.binary_cross_entropy(x, losslab.multi_hot(t, x.shape[1]))

        out.append(Candidate("bce-per-class", bce_per_class, scores="sigmoid-normalised"))
    return out


def _log_probs(logits: torch.Tensor, scores: str) -> torch.Tensor:
    """Log class probabilities (n, C) of a softmax or a normalised one-vs-rest model."""
    x = logits.double()
    if scores == "softmax":
        return torch.log_softmax(x, dim=1)
    # log(s_c / sum_k s_k) with s = sigmoid(x), in log space: logsigmoid - logsumexp.
    ls = torch.nn.functional.logsigmoid(x)
    return ls - torch.logsumexp(ls, dim=1, keepdim=True)


def multiclass_score(logits: torch.Tensor, cand: Candidate, data: D.Dataset) -> dict[str, float]:
    logp = _log_probs(logits, cand.scores)
    y = data.y_test
    nll = float(-logp.gather(1, y[:, None]).mean())
    probs = logp.exp().numpy()
    return {
        "accuracy": float((logp.argmax(1) == y).double().mean()),
        "NLL": nll,
        "ECE": M.expected_calibration_error(probs, y.numpy()),
    }


# ---------------------------------------------------------------------------------------
# multi-label


def multilabel_candidates(data: D.Dataset) -> list[Candidate]:
    """BCE, focal (gamma 2), ASL, multi-label softmax (both modes), soft-F1."""
    out = [
        Candidate("bce", lambda x, t: losslab.binary_cross_entropy(x, t)),
        Candidate("focal-2", lambda x, t: losslab.focal_loss(x, t, gamma=2.0, alpha=None)),
        Candidate("asl", lambda x, t: losslab.asymmetric_loss(x, t)),
    ]
    if available("multilabel_softmax_loss"):
        mls = losslab.multilabel_softmax_loss
        out.append(
            Candidate("ml-softmax", lambda x, t: mls(x, t, mode="normalized"), scores="softmax")
        )
        out.append(
            Candidate(
                "ml-softmax-per-positive",
                lambda x, t: mls(x, t, mode="per_positive"),
                scores="softmax",
            )
        )
    if available("soft_f1_loss"):
        out.append(Candidate("soft-f1", lambda x, t: losslab.soft_f1_loss(x, t)))
    return out


def _scores(logits: torch.Tensor, scores: str) -> np.ndarray:
    x = logits.double()
    return _np(torch.softmax(x, dim=1) if scores == "softmax" else torch.sigmoid(x))


def multilabel_score(logits: torch.Tensor, cand: Candidate, data: D.Dataset) -> dict[str, float]:
    s, y = _scores(logits, cand.scores), _np(data.y_test)
    return {"macro mAP": M.macro_map(y, s), "micro F1": M.best_f1(y, s)}


# ---------------------------------------------------------------------------------------
# partial labels

# Durand et al. 2019, "Learning a Deep ConvNet for Multi-label Classification with Partial
# Labels", eq. 2-3: the loss of an image is g(p_y) / C times the BCE summed over its C
# classes' *known* labels, where p_y is the proportion of known labels of that image and
# g(p) = alpha p^gamma + beta with gamma = 1, g(1) = 1 and g(0.1) = 5, i.e.
# g(p) = -4.45 p + 5.45. With every label known it is the usual mean BCE.
DURAND_A, DURAND_B = -4.45, 5.45


def durand_bce(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Partial-label BCE of Durand et al. 2019, (N, C) logits and targets (-1 = unknown)."""
    n, c = x.shape
    known_share = (t >= 0).to(x.dtype).mean(dim=1, keepdim=True)  # p_y, (N, 1)
    g = DURAND_A * known_share + DURAND_B
    # Unknown labels are left out by losslab (negative target); "sum" adds the known ones.
    return losslab.binary_cross_entropy(x, t, weight=g / c, reduction="sum") / n


def _partial_rows() -> list[tuple[str, Callable, bool, str]]:
    """(row name, loss, trains on hidden-as-0 targets, scores)."""
    bce = losslab.binary_cross_entropy
    rows = [
        ("assume-negative", lambda x, t: bce(x, t), True, "sigmoid"),
        ("masked-bce", lambda x, t: bce(x, t), False, "sigmoid"),
        (
            "masked-focal-2",
            lambda x, t: losslab.focal_loss(x, t, gamma=2.0, alpha=None),
            False,
            "sigmoid",
        ),
    ]
    if available("multilabel_softmax_loss"):
        rows.append(
            (
                "masked-ml-softmax",
                lambda x, t: losslab.multilabel_softmax_loss(x, t),
                False,
                "softmax",
            )
        )
    rows.append(("durand-bce", durand_bce, False, "sigmoid"))
    return rows


def partial_candidates(data: D.Dataset) -> list[Candidate]:
    """Every treatment at every hidden rate: one member per (treatment, rate)."""
    out = []
    for r in D.HIDDEN_RATES:
        for name, fn, as_negative, scores in _partial_rows():
            out.append(
                Candidate(
                    name,
                    fn,
                    scores=scores,
                    target=D.hidden_key(r, as_negative=as_negative),
                    column=f"{D.hidden_key(r)} hidden",
                )
            )
    return out


def partial_score(logits: torch.Tensor, cand: Candidate, data: D.Dataset) -> dict[str, float]:
    s, y = _scores(logits, cand.scores), _np(data.y_test)
    return {cand.column: M.macro_map(y, s)}


# ---------------------------------------------------------------------------------------
# dense detection

RETINANET_PRIOR = 0.01  # Lin et al. 2017, section 3.3: final bias log(pi / (1 - pi))


def dense_candidates(data: D.Dataset) -> list[Candidate]:
    """RetinaNet's comparison (Lin et al. 2017, table 1a-b), normalised as there by the
    number of positives: BCE without and with the prior init, alpha-balanced BCE
    (alpha 0.75, RetinaNet's best for CE), focal at gamma 0, 0.5, 1, 2, 5 (alpha 0.25)."""

    def sop(fn, **kw):
        return lambda x, t: fn(x, t, reduction="sum_over_positives", **kw)

    bce, focal, pi = losslab.binary_cross_entropy, losslab.focal_loss, RETINANET_PRIOR
    out = [
        Candidate("bce (no prior)", sop(bce)),
        Candidate("bce+prior", sop(bce), init=pi),
        Candidate("bce-a0.75+prior", sop(bce, alpha=0.75), init=pi),
    ]
    for gamma in (0, 0.5, 1, 2, 5):
        out.append(Candidate(f"focal-{gamma}+prior", sop(focal, gamma=gamma, alpha=0.25), init=pi))
    return out


def dense_score(logits: torch.Tensor, cand: Candidate, data: D.Dataset) -> dict[str, float]:
    return {"AP": M.average_precision(_np(data.y_test), _np(logits))}


# ---------------------------------------------------------------------------------------

SUITES: dict[str, Suite] = {
    s.name: s
    for s in [
        Suite(
            name="binary",
            title="binary, imbalanced: digit 8 against the rest, 2% positives in training",
            build=D.binary_imbalanced,
            candidates=binary_candidates,
            model=_mlp((64,)),
            score=binary_score,
            higher={"AP": True, "best F1": True},
            primary=("AP",),
            quick=Budget(seeds=3, epochs=30),
            full=Budget(seeds=8, epochs=60),
        ),
        Suite(
            name="multiclass",
            title="multiclass: the ten digits",
            build=D.multiclass,
            candidates=multiclass_candidates,
            model=_mlp((64,)),
            score=multiclass_score,
            higher={"accuracy": True, "NLL": False, "ECE": False},
            primary=("accuracy", "NLL", "ECE"),
            quick=Budget(seeds=3, epochs=30),
            full=Budget(seeds=8, epochs=60),
        ),
        Suite(
            name="multilabel",
            title="multi-label: 1-4 distinct digits tiled in a 2x2 grid",
            build=D.multilabel,
            candidates=multilabel_candidates,
            model=_mlp((128,)),
            score=multilabel_score,
            higher={"macro mAP": True, "micro F1": True},
            primary=("macro mAP",),
            quick=Budget(seeds=3, epochs=15),
            full=Budget(seeds=8, epochs=40),
            batch_size=128,
        ),
        Suite(
            name="partial",
            title="partial labels: macro mAP with 30-90% of training labels hidden",
            build=D.partial_labels,
            candidates=partial_candidates,
            model=_mlp((128,)),
            score=partial_score,
            higher={f"{D.hidden_key(r)} hidden": True for r in D.HIDDEN_RATES},
            primary=tuple(f"{D.hidden_key(r)} hidden" for r in D.HIDDEN_RATES),
            quick=Budget(seeds=3, epochs=10),
            full=Budget(seeds=8, epochs=30),
            batch_size=128,
        ),
        Suite(
            name="dense",
            title="dense detection: digits on a 48x48 canvas, 1,440 outputs per image",
            build=D.dense_detection,
            candidates=dense_candidates,
            model=_fcn,
            score=dense_score,
            higher={"AP": True},
            primary=("AP",),
            quick=Budget(seeds=3, epochs=8),
            full=Budget(seeds=5, epochs=20),
            batch_size=32,
            lr=3e-3,
        ),
    ]
}

# RetinaNet trained with SGD; Adam rescales every gradient, which hides what a loss's
# scale does to training (CE without the prior starts 47x higher than with it). This
# extra suite, not part of the default five, reruns the dense comparison with SGD
# (momentum 0.9, lr 0.1, the largest of 0.01, 0.05, 0.1 at which focal trained well).
SUITES["dense-sgd"] = dataclasses.replace(
    SUITES["dense"],
    name="dense-sgd",
    title="dense detection trained with SGD (momentum 0.9, lr 0.1), as RetinaNet",
    optimizer="sgd",
    lr=0.1,
)

# The suites `losslab bench` runs when no --suite is given.
DEFAULT_SUITES = ("binary", "multiclass", "multilabel", "partial", "dense")
