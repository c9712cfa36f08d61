"""`torch.nn.Module` counterparts of the functional losses.

A module stores the hyperparameters (tensors as buffers, so that `.to(device)` moves
them) and calls the function of the same name; it adds no behaviour of its own. Each
`forward` takes `(input, target, mask=None)`.
"""

from __future__ import annotations

import torch
from torch import nn

from . import sigmoid, softmax


def _buffer(module: nn.Module, name: str, value: torch.Tensor | None) -> None:
    """Register an optional tensor hyperparameter as a (non-persistent-if-None) buffer."""
    module.register_buffer(name, None if value is None else torch.as_tensor(value))


class BinaryCrossEntropy(nn.Module):
    """Module form of `losslab.binary_cross_entropy`; the arguments are the same."""

    def __init__(
        self,
        *,
        from_logits: bool = True,
        weight: torch.Tensor | None = None,
        pos_weight: torch.Tensor | None = None,
        alpha: float | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.from_logits, self.alpha = from_logits, alpha
        self.label_smoothing, self.reduction = label_smoothing, reduction
        _buffer(self, "weight", weight)
        _buffer(self, "pos_weight", pos_weight)

    def forward(self, input, target, mask=None):
        return sigmoid.binary_cross_entropy(
            input,
            target,
            from_logits=self.from_logits,
            weight=self.weight,
            pos_weight=self.pos_weight,
            alpha=self.alpha,
            label_smoothing=self.label_smoothing,
            mask=mask,
            reduction=self.reduction,
        )


class FocalLoss(nn.Module):
    """Module form of `losslab.focal_loss`; the arguments are the same."""

    def __init__(
        self,
        *,
        alpha: float | None = 0.25,
        gamma: float = 2.0,
        from_logits: bool = True,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.alpha, self.gamma = alpha, gamma
        self.from_logits, self.reduction = from_logits, reduction
        _buffer(self, "weight", weight)

    def forward(self, input, target, mask=None):
        return sigmoid.focal_loss(
            input,
            target,
            alpha=self.alpha,
            gamma=self.gamma,
            from_logits=self.from_logits,
            weight=self.weight,
            mask=mask,
            reduction=self.reduction,
        )


class AsymmetricLoss(nn.Module):
    """Module form of `losslab.asymmetric_loss`; the arguments are the same."""

    def __init__(
        self,
        *,
        gamma_pos: float = 0.0,
        gamma_neg: float = 4.0,
        margin: float = 0.05,
        from_logits: bool = True,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.gamma_pos, self.gamma_neg, self.margin = gamma_pos, gamma_neg, margin
        self.from_logits, self.reduction = from_logits, reduction
        _buffer(self, "weight", weight)

    def forward(self, input, target, mask=None):
        return sigmoid.asymmetric_loss(
            input,
            target,
            gamma_pos=self.gamma_pos,
            gamma_neg=self.gamma_neg,
            margin=self.margin,
            from_logits=self.from_logits,
            weight=self.weight,
            mask=mask,
            reduction=self.reduction,
        )


class SoftmaxCrossEntropy(nn.Module):
    """Module form of `losslab.softmax_cross_entropy`; the arguments are the same."""

    def __init__(
        self,
        *,
        dim: int = 1,
        weight: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.dim, self.label_smoothing, self.reduction = dim, label_smoothing, reduction
        _buffer(self, "weight", weight)

    def forward(self, input, target, mask=None):
        return softmax.softmax_cross_entropy(
            input,
            target,
            dim=self.dim,
            weight=self.weight,
            label_smoothing=self.label_smoothing,
            mask=mask,
            reduction=self.reduction,
        )


class SoftmaxFocalLoss(nn.Module):
    """Module form of `losslab.softmax_focal_loss`; the arguments are the same."""

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        alpha: torch.Tensor | None = None,
        dim: int = 1,
        weight: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.gamma, self.dim = gamma, dim
        self.label_smoothing, self.reduction = label_smoothing, reduction
        _buffer(self, "alpha", alpha)
        _buffer(self, "weight", weight)

    def forward(self, input, target, mask=None):
        return softmax.softmax_focal_loss(
            input,
            target,
            gamma=self.gamma,
            alpha=self.alpha,
            dim=self.dim,
            weight=self.weight,
            label_smoothing=self.label_smoothing,
            mask=mask,
            reduction=self.reduction,
        )


class MultiLabelSoftmaxLoss(nn.Module):
    """Module form of `losslab.multilabel_softmax_loss`; the arguments are the same."""

    def __init__(self, *, mode: str = "normalized", reduction: str = "mean") -> None:
        super().__init__()
        self.mode, self.reduction = mode, reduction

    def forward(self, input, target, mask=None):
        return softmax.multilabel_softmax_loss(
            input, target, mode=self.mode, mask=mask, reduction=self.reduction
        )


class KLDivergenceLoss(nn.Module):
    """Module form of `losslab.kl_divergence_loss`; the arguments are the same."""

    def __init__(
        self,
        *,
        dim: int = 1,
        from_logits: bool = True,
        temperature: float = 1.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.dim, self.from_logits = dim, from_logits
        self.temperature, self.reduction = temperature, reduction

    def forward(self, input, target, mask=None):
        return softmax.kl_divergence_loss(
            input,
            target,
            dim=self.dim,
            from_logits=self.from_logits,
            temperature=self.temperature,
            mask=mask,
            reduction=self.reduction,
        )


class SoftF1Loss(nn.Module):
    """Module form of `losslab.soft_f1_loss`; the arguments are the same."""

    def __init__(self, *, average: str = "macro", from_logits: bool = True) -> None:
        super().__init__()
        self.average, self.from_logits = average, from_logits

    def forward(self, input, target, mask=None):
        return softmax.soft_f1_loss(
            input, target, average=self.average, from_logits=self.from_logits, mask=mask
        )
