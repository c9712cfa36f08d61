"""losslab: loss engineering for classification in PyTorch.

The functional API lives in one module per family and is re-exported here by name:

- sigmoid family (`losslab.sigmoid`): binary_cross_entropy, focal_loss, asymmetric_loss,
  prior_bias, label_priors.
- regression (`losslab.regression`): mean_absolute_error, mean_squared_error,
  mean_squared_log_error, poisson_nll_loss.
- linear-layer losses (`losslab.linear`): linear_cross_entropy, linear_sigmoid_loss,
  the loss of hidden @ weight.T without materialising the logits.
- softmax family (`losslab.softmax`): softmax_cross_entropy, softmax_focal_loss,
  multilabel_softmax_loss, kl_divergence_loss, soft_f1_loss, multi_hot.

`losslab.info` (entropy, cross-entropy and KL of distributions, Huffman and block codes)
stays a submodule: `from losslab import info`.

`losslab.fused` holds the compiled forward+backward kernels and their switch.

`losslab.nn` holds the `torch.nn.Module` counterparts.
"""

from . import fused, info
from .linear import linear_cross_entropy, linear_sigmoid_loss
from .regression import (
    mean_absolute_error,
    mean_squared_error,
    mean_squared_log_error,
    poisson_nll_loss,
)
from .sigmoid import (
    asymmetric_loss,
    binary_cross_entropy,
    focal_loss,
    label_priors,
    prior_bias,
)
from .softmax import (
    kl_divergence_loss,
    multi_hot,
    multilabel_softmax_loss,
    soft_f1_loss,
    softmax_cross_entropy,
    softmax_focal_loss,
)

__version__ = "0.1.0"

__all__ = [
    "asymmetric_loss",
    "binary_cross_entropy",
    "focal_loss",
    "fused",
    "info",
    "label_priors",
    "linear_cross_entropy",
    "linear_sigmoid_loss",
    "mean_absolute_error",
    "mean_squared_error",
    "mean_squared_log_error",
    "poisson_nll_loss",
    "prior_bias",
    "kl_divergence_loss",
    "multi_hot",
    "multilabel_softmax_loss",
    "soft_f1_loss",
    "softmax_cross_entropy",
    "softmax_focal_loss",
]
