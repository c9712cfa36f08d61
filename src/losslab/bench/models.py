"""Tiny models for `losslab bench`, one independent copy per candidate loss.

A suite trains one model per candidate loss on the same mini-batches. Rather than a
Python loop over a dozen `nn.Module`s, an ensemble stores every parameter with a leading
member dimension M and computes all members at once (batched matrix products for the
MLP). The members share nothing but their input: the gradient of member m depends only
on member m's loss, and Adam and SGD update every parameter element on its own, so
training them together gives the same numbers as training them one by one. (Gradient
clipping by a global norm would couple them; nothing here clips.)

Every member starts from the same initial weights, so that two members differ only in
their loss and in the final bias they start from: the comparison across losses is
paired, seed by seed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _uniform(shape: tuple[int, ...], fan_in: int, generator: torch.Generator) -> torch.Tensor:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the default init of `nn.Linear` and `nn.Conv2d`."""
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


def _stack(t: torch.Tensor, members: int) -> nn.Parameter:
    """M copies of one initial tensor, as one parameter of shape (M, *t.shape)."""
    return nn.Parameter(t.unsqueeze(0).repeat(members, *([1] * t.dim())).contiguous())


class MLPEnsemble(nn.Module):
    """M multilayer perceptrons d -> hidden... -> outputs with ReLU, computed together.

    Args:
        members: M, the number of independent models.
        inputs: d, the number of features.
        hidden: the widths of the hidden layers.
        outputs: the number of logits per example.
        generator: the random generator for the (shared) initial weights.

    Shapes: input (B, d) -> logits (M, B, outputs).
    """

    def __init__(
        self,
        members: int,
        inputs: int,
        hidden: tuple[int, ...],
        outputs: int,
        *,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        widths = (inputs, *hidden, outputs)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
            self.weights.append(_stack(_uniform((fan_in, fan_out), fan_in, generator), members))
            self.biases.append(_stack(_uniform((1, fan_out), fan_in, generator), members))
        self.members = members

    def output_bias(self) -> torch.Tensor:
        """The final layer's bias, (M, 1, outputs): where a prior-bias init goes."""
        return self.biases[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(0).expand(self.members, *x.shape)  # (M, B, d), shared input
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)  # (M, B, fan_out) = b + h @ w, member by member
            if i < last:
                h = F.relu(h)
        return h


class FCNEnsemble(nn.Module):
    """M small fully convolutional detectors, one logit per (class, output cell).

    Each member turns stride x stride pixel blocks into channels (pixel_unshuffle), then
    applies three 3x3 convolutions with ReLU and a 1x1 convolution to `outputs` classes.
    Its receptive field is 7 x 7 cells (28 pixels at stride 4), enough to see a whole
    8 x 8 digit and its surroundings.

    Args:
        members: M, the number of independent models.
        outputs: classes per cell.
        channels: width of the hidden convolutions.
        stride: pixels per output cell along each side.
        generator: the random generator for the (shared) initial weights.

    Shapes: input (B, 1, H, W) -> logits (M, B, outputs, H / stride, W / stride).
    """

    def __init__(
        self,
        members: int,
        outputs: int,
        *,
        channels: int = 16,
        stride: int = 4,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        c0 = stride * stride
        shapes = [(channels, c0, 3), (channels, channels, 3), (channels, channels, 3)]
        shapes.append((outputs, channels, 1))
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for c_out, c_in, k in shapes:
            fan_in = c_in * k * k
            self.weights.append(_stack(_uniform((c_out, c_in, k, k), fan_in, generator), members))
            self.biases.append(_stack(_uniform((c_out,), fan_in, generator), members))
        self.members, self.stride = members, stride

    def output_bias(self) -> torch.Tensor:
        """The final layer's bias, (M, outputs): where a prior-bias init goes."""
        return self.biases[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cells = F.pixel_unshuffle(x, self.stride)  # (B, stride^2, H/stride, W/stride)
        out = []
        # A loop over members: on CPU it is faster than one grouped convolution.
        for m in range(self.members):
            h = cells
            for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                h = F.conv2d(h, w[m], b[m], padding=w.shape[-1] // 2)
                if i < len(self.weights) - 1:
                    h = F.relu(h)
            out.append(h)
        return torch.stack(out)  # (M, B, outputs, H/stride, W/stride)
