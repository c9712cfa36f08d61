"""Data for `losslab bench`: five suites built from scikit-learn's handwritten digits.

`sklearn.datasets.load_digits` ships 1,797 real 8x8 grey-level digits with the library,
so the benchmark needs no download. Every builder takes a `seed`, splits the digits into
train and test images first (stratified, 70/30) and builds its training examples only
from training digits and its test examples only from test digits, so that no digit image
is seen in both.

Every builder returns a `Dataset`: float32 features, targets as torch tensors and a few
facts (`info`) that the report prints, such as the rate of positives.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

NUM_DIGITS = 10
SIDE = 8  # a digit image is 8 x 8 pixels


@dataclass
class Dataset:
    """Features and targets of one suite and seed.

    Attributes:
        x_train, x_test: float32 features; (n, d) for the MLP suites, (n, 1, H, W) images
            for dense detection.
        train_targets: the training targets by variant name. Most suites have one variant,
            "default"; partial labels have one per hidden rate ("30%", ...) and per
            treatment of the hidden labels ("30% as 0", ...).
        y_test: the fully labelled test targets.
        info: facts for the report (sizes, positive rates), all JSON-serialisable.
    """

    x_train: torch.Tensor
    train_targets: dict[str, torch.Tensor]
    x_test: torch.Tensor
    y_test: torch.Tensor
    info: dict = field(default_factory=dict)


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digit images scaled to [0, 1], (n, 8, 8) float32, and their labels."""
    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def _split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 70/30 split of the digit images: (train images, labels, test images, labels)."""
    images, labels = _digits()
    tr_i, te_i, tr_y, te_y = train_test_split(
        images, labels, test_size=0.3, stratify=labels, random_state=seed
    )
    return tr_i, tr_y, te_i, te_y


def binary_imbalanced(seed: int, *, digit: int = 8, positive_rate: float = 0.02) -> Dataset:
    """One digit against the rest, positives subsampled to `positive_rate` of training.

    The test set keeps the digit's natural rate (about 10%), so that its average precision
    rests on about 54 positives rather than on a handful; the metrics are rank-based or
    take the best threshold, so the shift in prevalence does not favour any loss.

    Targets are (n, 1) floats in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    tr_i, tr_y, te_i, te_y = _split(seed)
    pos, neg = np.flatnonzero(tr_y == digit), np.flatnonzero(tr_y != digit)
    # n_pos / (n_pos + n_neg) = rate  <=>  n_pos = rate / (1 - rate) * n_neg
    n_pos = max(2, round(positive_rate / (1 - positive_rate) * len(neg)))
    keep = np.concatenate([rng.choice(pos, size=n_pos, replace=False), neg])
    keep = rng.permutation(keep)
    x_train = tr_i[keep].reshape(len(keep), -1)
    y_train = (tr_y[keep] == digit).astype(np.float32)[:, None]
    y_test = (te_y == digit).astype(np.float32)[:, None]
    return Dataset(
        x_train=torch.from_numpy(x_train),
        train_targets={"default": torch.from_numpy(y_train)},
        x_test=torch.from_numpy(te_i.reshape(len(te_i), -1)),
        y_test=torch.from_numpy(y_test),
        info={
            "task": f"digit {digit} against the rest",
            "train": len(keep),
            "train positives": int(y_train.sum()),
            "train positive rate": round(float(y_train.mean()), 4),
            "test": len(te_y),
            "test positive rate": round(float(y_test.mean()), 4),
        },
    )


def multiclass(seed: int) -> Dataset:
    """The ten digits; targets are (n,) int64 class indices."""
    tr_i, tr_y, te_i, te_y = _split(seed)
    return Dataset(
        x_train=torch.from_numpy(tr_i.reshape(len(tr_i), -1)),
        train_targets={"default": torch.from_numpy(tr_y)},
        x_test=torch.from_numpy(te_i.reshape(len(te_i), -1)),
        y_test=torch.from_numpy(te_y),
        info={"task": "10 digits", "train": len(tr_y), "test": len(te_y)},
    )


def _tile(images, labels, n, grid, rng) -> tuple[np.ndarray, np.ndarray]:
    """`n` grids of grid x grid cells holding 1 to grid**2 distinct digits; multi-hot labels."""
    by_class = [np.flatnonzero(labels == c) for c in range(NUM_DIGITS)]
    cells = grid * grid
    x = np.zeros((n, grid * SIDE, grid * SIDE), dtype=np.float32)
    y = np.zeros((n, NUM_DIGITS), dtype=np.float32)
    for i in range(n):
        k = rng.integers(1, cells + 1)
        classes = rng.choice(NUM_DIGITS, size=k, replace=False)
        places = rng.choice(cells, size=k, replace=False)
        for c, p in zip(classes, places, strict=True):
            r, col = divmod(int(p), grid)
            x[i, r * SIDE : (r + 1) * SIDE, col * SIDE : (col + 1) * SIDE] = images[
                rng.choice(by_class[c])
            ]
            y[i, c] = 1.0
    return x.reshape(n, -1), y


def multilabel(seed: int, *, n_train: int = 3000, n_test: int = 1000, grid: int = 2) -> Dataset:
    """Images tiling 1 to 4 distinct digits in a 2 x 2 grid (16 x 16 pixels, 256 features).

    The labels are the digits present: (n, 10) multi-hot floats in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    tr_i, tr_y, te_i, te_y = _split(seed)
    x_train, y_train = _tile(tr_i, tr_y, n_train, grid, rng)
    x_test, y_test = _tile(te_i, te_y, n_test, grid, rng)
    return Dataset(
        x_train=torch.from_numpy(x_train),
        train_targets={"default": torch.from_numpy(y_train)},
        x_test=torch.from_numpy(x_test),
        y_test=torch.from_numpy(y_test),
        info={
            "task": f"1-{grid * grid} distinct digits tiled in a {grid}x{grid} grid",
            "train": n_train,
            "test": n_test,
            "labels per image": round(float(y_train.sum(1).mean()), 3),
        },
    )


HIDDEN_RATES = (0.3, 0.5, 0.7, 0.9)


def hidden_key(rate: float, *, as_negative: bool = False) -> str:
    """The name of a partial-label target variant: "30%" (hidden = -1) or "30% as 0"."""
    return f"{round(rate * 100)}%" + (" as 0" if as_negative else "")


def partial_labels(
    seed: int, *, rates: tuple[float, ...] = HIDDEN_RATES, n_train: int = 3000, n_test: int = 1000
) -> Dataset:
    """The multi-label set with a share of its training labels hidden.

    For each rate r, every training label (image x class) is hidden with probability r,
    independently; the hidden sets are nested (what is hidden at 30% is hidden at 50%).
    Each rate gives two target variants: "r%" with hidden labels set to -1 (unknown, for
    the mask-aware losses) and "r% as 0" with hidden labels set to 0 (assume negative).
    The test labels stay complete.
    """
    data = multilabel(seed, n_train=n_train, n_test=n_test)
    full = data.train_targets["default"]
    # One uniform number per label; a label is hidden at rate r when its number is below r.
    u = torch.from_numpy(np.random.default_rng(seed + 7919).random(full.shape).astype(np.float32))
    targets = {}
    hidden_share = {}
    for r in rates:
        hidden = u < r
        targets[hidden_key(r)] = torch.where(hidden, -1.0, full)
        targets[hidden_key(r, as_negative=True)] = torch.where(hidden, 0.0, full)
        hidden_share[hidden_key(r)] = round(float(hidden.float().mean()), 4)
    data.train_targets = targets
    data.info["task"] = "multi-label digits with hidden training labels"
    data.info["hidden share"] = hidden_share
    return data


def _free(boxes: list[tuple[int, int, int]], y0: int, x0: int, size: int) -> bool:
    """Whether a size x size box at (y0, x0) overlaps none of `boxes` (y, x, size)."""
    return all(y0 + size <= y or y + s <= y0 or x0 + size <= x or x + s <= x0 for y, x, s in boxes)


def _canvases(images, labels, n, canvas, stride, max_digits, clutter, rng):
    """`n` canvases with 1..max_digits digits and a few clutter patches; per-cell targets."""
    cells = canvas // stride
    x = np.zeros((n, 1, canvas, canvas), dtype=np.float32)
    y = np.zeros((n, NUM_DIGITS, cells, cells), dtype=np.float32)
    # A digit's top-left corner sits at stride * i - stride / 2, so that its centre
    # (4 pixels in) falls in the middle of output cell i: the label of every digit is
    # exactly one (cell, class) output, with no ambiguity at cell borders.
    offset = SIDE // 2 - stride // 2
    corners = [stride * i - offset for i in range(cells) if 0 <= stride * i - offset]
    corners = [c for c in corners if c + SIDE <= canvas]
    for i in range(n):
        boxes: list[tuple[int, int, int]] = []
        for _ in range(rng.integers(1, max_digits + 1)):
            for _attempt in range(50):
                y0, x0 = rng.choice(corners), rng.choice(corners)
                if _free(boxes, y0, x0, SIDE):
                    break
            else:
                continue
            j = rng.integers(len(images))
            x[i, 0, y0 : y0 + SIDE, x0 : x0 + SIDE] = images[j]
            y[i, labels[j], (y0 + offset) // stride, (x0 + offset) // stride] = 1.0
            boxes.append((y0, x0, SIDE))
        # Clutter: 4x4 pieces of other digits, hard negatives that look like strokes.
        for _ in range(clutter):
            y0, x0 = rng.integers(0, canvas - 4, size=2)
            if _free(boxes, y0, x0, 4):
                j, a, b = rng.integers(len(images)), rng.integers(0, 5), rng.integers(0, 5)
                x[i, 0, y0 : y0 + 4, x0 : x0 + 4] = images[j, a : a + 4, b : b + 4]
                boxes.append((y0, x0, 4))
    return x, y


def dense_detection(
    seed: int,
    *,
    n_train: int = 1000,
    n_test: int = 300,
    canvas: int = 48,
    stride: int = 4,
    max_digits: int = 2,
    clutter: int = 4,
) -> Dataset:
    """Digits on a larger canvas; every (output cell, class) pair is one binary decision.

    A 48 x 48 canvas holds 1 to `max_digits` digits and `clutter` 4x4 pieces of other
    digits. The detector's output grid has one cell per `stride` x `stride` pixels
    (12 x 12 cells), each with 10 class scores: 1,440 outputs per image of which 1 or 2
    are positive, a positive rate near 1 in 1,000 (printed in `info`).

    Images are (n, 1, 48, 48); targets are (n, 10, 12, 12) floats in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    tr_i, tr_y, te_i, te_y = _split(seed)
    x_train, y_train = _canvases(tr_i, tr_y, n_train, canvas, stride, max_digits, clutter, rng)
    x_test, y_test = _canvases(te_i, te_y, n_test, canvas, stride, max_digits, clutter, rng)
    return Dataset(
        x_train=torch.from_numpy(x_train),
        train_targets={"default": torch.from_numpy(y_train)},
        x_test=torch.from_numpy(x_test),
        y_test=torch.from_numpy(y_test),
        info={
            "task": f"digits on a {canvas}x{canvas} canvas, {canvas // stride}x"
            f"{canvas // stride} output cells x 10 classes",
            "train": n_train,
            "test": n_test,
            "outputs per image": int(y_train[0].size),
            "train positive rate": float(f"{y_train.mean():.3g}"),
            "positives per 1,000 outputs": round(1000 * float(y_train.mean()), 3),
        },
    )
