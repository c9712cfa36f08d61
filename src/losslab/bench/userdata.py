"""`losslab bench --data FILE.npz`: the user's own features and labels as a suite.

The file holds two arrays: `X`, (n, d) numeric features, and `y`, either (n,) integer
classes (two classes: binary; more: multiclass) or (n, C) multi-hot labels in {0, 1}
with -1 for "unknown" (multi-label, possibly partially labelled). The task is inferred
from `y`; the suite trains an MLP with the candidate losses that fit the task on a
stratified 75/25 split (features standardised with the training split's mean and
standard deviation).

Every problem with the file raises `UserDataError` with a one-line message, which the
CLI prints without a traceback.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from . import suites as S
from .data import Dataset
from .train import Candidate


class UserDataError(ValueError):
    """A problem with the user's data file, said in one line."""


def load(path: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """Read and check `X` and `y`; return them with the task ("binary", "multiclass",
    "multilabel").

    Raises:
        UserDataError: unreadable file, missing array, wrong shape or dtype, non-finite
            features, labels out of range, or a class without examples.
    """
    path = Path(path)
    if path.is_file() and not zipfile.is_zipfile(path) and path.suffix == ".npz":
        # numpy would try the file as a pickle and refuse with a message about pickles.
        raise UserDataError(f"{path}: not an .npz archive (a zip of .npy arrays)")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            # A .npy file loads as a plain array: no names, so no X and y.
            raise UserDataError(f"{path}: expected an .npz archive with arrays X and y")
        with npz:
            names = set(npz.files)
            for name in ("X", "y"):
                if name not in names:
                    have = ", ".join(sorted(names)) or "none"
                    raise UserDataError(f"{path}: missing array `{name}` (arrays found: {have})")
            x, y = npz["X"], npz["y"]
    except UserDataError:
        raise
    except FileNotFoundError:
        raise UserDataError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        # allow_pickle=False refuses object arrays with a ValueError; say so in one line.
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserDataError(f"{path}: cannot read as .npz ({reason})") from None
    return x, y, _check(path, x, y)


def _check(path: Path, x: np.ndarray, y: np.ndarray) -> str:
    """Validate the arrays and infer the task."""
    if x.ndim != 2:
        raise UserDataError(f"{path}: `X` must be 2-d (n, d), got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise UserDataError(f"{path}: `X` must be numeric, got dtype {x.dtype}")
    if x.shape[0] < 4 or x.shape[1] < 1:
        raise UserDataError(f"{path}: `X` needs at least 4 rows and 1 column, got {x.shape}")
    if not np.isfinite(x.astype(np.float64)).all():
        bad = int((~np.isfinite(x.astype(np.float64))).any(axis=1).sum())
        raise UserDataError(f"{path}: `X` has NaN or infinite values in {bad} rows")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise UserDataError(
            f"{path}: `y` must be (n,) classes or (n, C) multi-hot with n = {x.shape[0]} "
            f"(the rows of `X`), got shape {y.shape}"
        )
    if y.ndim == 1:
        return _check_classes(path, y)
    return _check_multihot(path, y)


def _check_classes(path: Path, y: np.ndarray) -> str:
    if y.dtype.kind not in "iu":
        raise UserDataError(f"{path}: `y` of shape (n,) must hold integer classes, got {y.dtype}")
    if y.min() < 0:
        raise UserDataError(f"{path}: classes in `y` must be 0, 1, ..., got {int(y.min())}")
    counts = np.bincount(y)
    if len(counts) < 2:
        raise UserDataError(f"{path}: `y` has a single class (0); need at least two")
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        raise UserDataError(
            f"{path}: class {int(empty[0])} has no examples (classes must be 0..{len(counts) - 1})"
        )
    few = np.flatnonzero(counts < 2)
    if len(few):
        raise UserDataError(
            f"{path}: class {int(few[0])} has 1 example; a stratified split needs at least 2"
        )
    return "binary" if len(counts) == 2 else "multiclass"


def _check_multihot(path: Path, y: np.ndarray) -> str:
    if y.dtype.kind not in "biuf":
        raise UserDataError(f"{path}: `y` must be numeric, got dtype {y.dtype}")
    values = np.unique(y)
    bad = values[~np.isin(values, (-1, 0, 1))]
    if len(bad):
        raise UserDataError(f"{path}: multi-hot `y` must hold 1, 0 or -1 (unknown), got {bad[0]!r}")
    empty = np.flatnonzero((y == 1).sum(axis=0) == 0)
    if len(empty):
        raise UserDataError(
            f"{path}: class {int(empty[0])} (column of `y`) has no positive example"
        )
    return "multilabel"


def _masked_macro_map(labels: np.ndarray, scores: np.ndarray) -> float:
    """Macro mAP over the classes with a known positive, each on its known labels only."""
    aps = []
    for c in range(labels.shape[1]):
        known = labels[:, c] >= 0
        if (labels[known, c] == 1).any():
            aps.append(average_precision_score(labels[known, c], scores[known, c]))
    return float(np.mean(aps)) if aps else float("nan")


def _userdata_multilabel_score(logits, cand, data) -> dict[str, float]:
    s, y = S._scores(logits, cand.scores), S._np(data.y_test)
    return {"macro mAP": _masked_macro_map(y, s)}


def _multilabel_candidates(data: Dataset) -> list[Candidate]:
    out = S.multilabel_candidates(data)
    if bool((data.train_targets["default"] < 0).any()):
        out.append(Candidate("durand-bce", S.durand_bce))
        bce = S.losslab.binary_cross_entropy
        out.append(Candidate("assume-negative", lambda x, t: bce(x, t.clamp(min=0))))
    return out


def suite(path: str | Path, *, test_size: float = 0.25) -> tuple[S.Suite, str]:
    """A `Suite` for the user's file, and the task inferred from `y`.

    Raises:
        UserDataError: see `load`.
    """
    x, y, task = load(path)
    x = x.astype(np.float32)
    if task == "multilabel":
        y = y.astype(np.float32)
    else:
        y = y.astype(np.int64)

    def build(seed: int) -> Dataset:
        # Not yet: multi-label rows are split at random; iterative stratification
        # (Sechidis et al. 2011) would keep every label's share in both halves.
        strat = y if task != "multilabel" else None
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, y, test_size=test_size, stratify=strat, random_state=seed
        )
        mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
        std[std == 0] = 1.0
        x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
        if task == "binary":
            y_tr, y_te = y_tr[:, None].astype(np.float32), y_te[:, None].astype(np.float32)
        return Dataset(
            x_train=torch.from_numpy(x_tr),
            train_targets={"default": torch.from_numpy(y_tr)},
            x_test=torch.from_numpy(x_te),
            y_test=torch.from_numpy(y_te),
            info={
                "task": task,
                "file": str(path),
                "train": len(x_tr),
                "test": len(x_te),
                "features": int(x.shape[1]),
            },
        )

    base = {
        "binary": S.SUITES["binary"],
        "multiclass": S.SUITES["multiclass"],
        "multilabel": S.SUITES["multilabel"],
    }[task]
    changes = {
        "name": "data",
        "title": f"your data ({Path(path).name}): {task}",
        "build": build,
        "model": S._mlp((128,)),
        "batch_size": 64,
    }
    if task == "multilabel":
        changes.update(
            candidates=_multilabel_candidates,
            score=_userdata_multilabel_score,
            higher={"macro mAP": True},
            primary=("macro mAP",),
        )
    return dataclasses.replace(base, **changes), task
