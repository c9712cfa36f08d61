"""losslab: loss engineering for classification in PyTorch.

The functional API lives in one module per family and is re-exported here by name:

- sigmoid family (`losslab.sigmoid`): binary_cross_entropy, focal_loss, asymmetric_loss,
  prior_bias, label_priors.

`losslab.nn` holds the `torch.nn.Module` counterparts.
"""

from .sigmoid import (
    asymmetric_loss,
    binary_cross_entropy,
    focal_loss,
    label_priors,
    prior_bias,
)

__version__ = "0.1.0"

__all__ = [
    "asymmetric_loss",
    "binary_cross_entropy",
    "focal_loss",
    "label_priors",
    "prior_bias",
]
