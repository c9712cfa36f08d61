"""A first look at losslab: exact sigmoid-family losses where the usual ones break."""

import torch
import torch.nn.functional as F

import losslab

# A confident, correct prediction and a confident, wrong one, plus an unknown label (-1).
x = torch.tensor([30.0, -30.0, 2.0], requires_grad=True)
t = torch.tensor([1.0, 1.0, -1.0])

for name, loss in [
    ("binary_cross_entropy", losslab.binary_cross_entropy(x, t, reduction="none")),
    ("focal_loss(gamma=0.5)", losslab.focal_loss(x, t, gamma=0.5, reduction="none")),
    ("asymmetric_loss", losslab.asymmetric_loss(x, t, reduction="none")),
]:
    (grad,) = torch.autograd.grad(loss.sum(), x)
    print(f"{name:24s} loss {loss.tolist()}  grad {grad.tolist()}")

p = torch.tensor([1e-300], dtype=torch.float64)
one = torch.ones(1, dtype=torch.float64)
print("BCE of p=1e-300 for a positive, nats:")
print("  losslab       ", losslab.binary_cross_entropy(p, one, from_logits=False).item())
print("  torch (clamps)", F.binary_cross_entropy(p, one).item())
print("RetinaNet prior bias for 0.01:", round(losslab.prior_bias(0.01), 5))
