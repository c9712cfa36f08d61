"""`torch.nn.Module` counterparts of the functional losses.

A module stores the hyperparameters and calls the function of the same name; it adds no
behaviour of its own. Its keyword arguments are the function's keyword-only arguments
(all but `mask`), with the same defaults; tensor ones (class weights, alpha) become
buffers, so that `.to(device)` moves them. Each `forward` takes `(input, target,
mask=None)`.

    >>> import torch, losslab
    >>> loss = losslab.nn.FocalLoss(gamma=1.0)
    >>> loss
    FocalLoss(alpha=0.25, gamma=1.0, from_logits=True, reduction='mean')
    >>> loss(torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0]))
    tensor(0.0335)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from . import regression, sigmoid, softmax


class _LossModule(nn.Module):
    """Holds the keyword arguments of `function` and calls it in `forward`."""

    function: Callable[..., torch.Tensor]

    def __init_subclass__(cls, function: Callable[..., torch.Tensor], **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.function = staticmethod(function)
        cls._defaults = {
            name: p.default
            for name, p in inspect.signature(function).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "mask"
        }
        cls.__doc__ = f"Module form of `losslab.{function.__name__}`; the arguments are the same."

    def __init__(self, **kwargs) -> None:
        super().__init__()
        unknown = sorted(set(kwargs) - set(self._defaults))
        if unknown:
            allowed = ", ".join(self._defaults)
            raise TypeError(
                f"{type(self).__name__} got an unexpected argument `{unknown[0]}`; "
                f"it takes {allowed}"
            )
        self._names = list(self._defaults)
        for name, default in self._defaults.items():
            value = kwargs.get(name, default)
            if isinstance(value, torch.Tensor):
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)

    def forward(
        self, input: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        options = {name: getattr(self, name) for name in self._names}
        return self.function(input, target, mask=mask, **options)

    def extra_repr(self) -> str:
        shown = (
            f"{name}={getattr(self, name)!r}"
            for name in self._names
            if not isinstance(getattr(self, name), torch.Tensor) and getattr(self, name) is not None
        )
        return ", ".join(shown)


class BinaryCrossEntropy(_LossModule, function=sigmoid.binary_cross_entropy):
    pass


class FocalLoss(_LossModule, function=sigmoid.focal_loss):
    pass


class AsymmetricLoss(_LossModule, function=sigmoid.asymmetric_loss):
    pass


class SoftmaxCrossEntropy(_LossModule, function=softmax.softmax_cross_entropy):
    pass


class SoftmaxFocalLoss(_LossModule, function=softmax.softmax_focal_loss):
    pass


class MultiLabelSoftmaxLoss(_LossModule, function=softmax.multilabel_softmax_loss):
    pass


class KLDivergenceLoss(_LossModule, function=softmax.kl_divergence_loss):
    pass


class SoftF1Loss(_LossModule, function=softmax.soft_f1_loss):
    pass


class MeanAbsoluteError(_LossModule, function=regression.mean_absolute_error):
    pass


class MeanSquaredError(_LossModule, function=regression.mean_squared_error):
    pass


class MeanSquaredLogError(_LossModule, function=regression.mean_squared_log_error):
    pass


class PoissonNLLLoss(_LossModule, function=regression.poisson_nll_loss):
    pass
