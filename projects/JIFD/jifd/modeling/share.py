"""The share of a feature's variance that a label explains: the remedy of a branch that must not
hold a label (identity in f_ci, the domain in f_di, the domain in the pooled pixels of x - G(x)).
Each share's form key (MODEL.JIFD.DI.DOMAIN_SHARE_FORM, ...) picks how it looks: each dimension
of the batch on its own ("batch", label_share) or along the label's Fisher directions from
running statistics ("fisher", FisherShare), which is what a linear probe reads."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from jifd.config import SHARE_FORMS

__all__ = ["label_share", "BatchShare", "FisherShare", "build_share"]

FISHER_RIDGE = 1e-3  # added to the within-label covariance, times its mean variance
COVARIANCE_MOMENTUM = 0.01  # the within-label covariance averages ~100 batches
MEAN_MOMENTUM = 0.9  # a label's mean: mostly its last appearance


def label_share(features: Tensor, labels: Tensor) -> Tensor:
    """The share of each dimension's batch variance that the label means explain (the R^2 of
    fitting the dimension by its label means), averaged over the dimensions that vary, in
    [0, 1]; 0 when none varies.

    Why: an adversary can be met without losing the label. Class confusion against one learned
    classifier is minimised exactly by f_ci = 0, and short of that f_ci can keep identity in
    directions that classifier does not (yet) weigh; a fresh probe then reads identity at 100 %
    while the confusion loss sits at log C. What a linear probe exploits is a difference between
    the label-conditional means of the feature: a classifier's expected score for class c on
    label y is w_c . mu_y + b_c, the same for every y when the means agree. This loss measures
    those differences with the means of the batch itself, so no adversary has to catch up. Each
    dimension's share is a ratio, so neither shrinking a feature nor inflating the noise of a few
    dimensions lowers it: like the probe, which standardises its input, it weighs a low-variance
    dimension as much as any other. A branch can still meet it by becoming constant, which D_ci's
    non-affine output normalisation (MODEL.JIFD.CI.OUTPUT_AFFINE False) rules out, and the ReID
    losses rule out for f_di. What it misses is a label that shows only in a combination of
    dimensions (a small shift under noise that the other dimensions cancel): FisherShare.

    With no label information the share is (P - 1) / (N - 1) in expectation for P labels in a
    batch of N, not 0: the floor of the loss, whose gradient is then noise.
    """
    x = features.float().flatten(1)
    centred = x - x.mean(0)
    classes, index = labels.unique(return_inverse=True)
    sums = torch.zeros(len(classes), x.shape[1], device=x.device).index_add_(0, index, centred)
    counts = torch.bincount(index, minlength=len(classes)).to(x.dtype)
    between = (sums.pow(2) / counts[:, None]).sum(0)
    total = centred.pow(2).sum(0)
    varies = total > torch.finfo(x.dtype).tiny
    if not varies.any():
        return x.new_zeros(()) + 0.0 * x.sum()  # keeps the graph for DDP
    return (between[varies] / total[varies]).mean()


class BatchShare(nn.Module):
    """label_share as a module, so both forms plug in the same way."""

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        return label_share(features, labels)


class FisherShare(nn.Module):
    """label_share of the batch projected on the label's Fisher directions: W^-1 (mu_l - mu) for
    each label l of the batch, with W the within-label covariance averaged over the last
    ~1 / COVARIANCE_MOMENTUM batches, mu_l the label's mean over its last ~1 / MEAN_MOMENTUM
    appearances before this batch, and mu the mean of the labels seen so far.

    Why: label_share looks at one dimension at a time. On the bench it held f_di's domain share
    near its floor while a probe on identities it had never seen still read the domain at 98 %:
    a shift that is small in every dimension but lies where the other dimensions' noise cancels
    is invisible to each dimension and plain to a linear classifier, whose optimum under shared
    covariance is this direction. One batch of 32 cannot estimate a 192-2048-dimensional
    covariance; a hundred can, and the covariance changes slowly.

    The means must come from other batches: directions fitted to the batch they are scored on
    find its noise. In d whitened dimensions, the mean difference of two groups of 16 has a
    noise of norm^2 ~ d / 8, and the batch projected on it shows a share of ~0.94 at d = 512
    with no label information at all. They must also be recent, since the features move and a
    stale direction misses where the label went: hence a fast momentum (on the f_di toy of
    tests/test_domain_targets.py the domain stays readable at 58 % on new identities with
    MEAN_MOMENTUM 0.9, 66 % with 0.5 and 96 % with 0.01; chance 50).
    The directions carry no gradient (they are statistics, like the probe's fit); the batch's
    features do, so what is pushed is the projection's label means toward each other.
    """

    def __init__(self, dim: int, num_labels: int) -> None:
        super().__init__()
        self.register_buffer("means", torch.zeros(num_labels, dim))
        self.register_buffer("seen", torch.zeros(num_labels))  # batches each label was in
        self.register_buffer("within", torch.zeros(dim, dim))
        self.register_buffer("steps", torch.zeros(()))

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        x = features.float().flatten(1)
        classes, index = labels.unique(return_inverse=True)
        with torch.no_grad():
            counts = torch.bincount(index, minlength=len(classes)).to(x.dtype)
            batch_means = torch.zeros(len(classes), x.shape[1], device=x.device).index_add_(0, index, x)
            batch_means /= counts[:, None]
            directions = self.directions(classes)  # before this batch is in the statistics
            self.update(classes, batch_means, x - batch_means[index])
        return label_share(x @ directions.T, labels)

    @torch.no_grad()
    def update(self, classes: Tensor, batch_means: Tensor, centred: Tensor) -> None:
        """Moves the label means and W toward the batch's; a label's first appearances, and the
        first batches, are averaged evenly (rate 1 / count until that reaches the momentum)."""
        self.seen[classes] += 1
        rate = self.seen[classes].reciprocal().clamp(min=MEAN_MOMENTUM)[:, None]
        self.means[classes] += rate * (batch_means - self.means[classes])
        self.steps += 1
        step_rate = self.steps.reciprocal().clamp(min=COVARIANCE_MOMENTUM)
        self.within += step_rate * (centred.T @ centred / len(centred) - self.within)

    @torch.no_grad()
    def directions(self, classes: Tensor) -> Tensor:
        """(len(classes), dim): W^-1 (mu_l - mu), with a ridge of FISHER_RIDGE times W's mean
        variance; 0 for a label not seen before (or while only one label has been)."""
        seen = self.seen > 0
        if seen.sum() < 2:
            return self.means.new_zeros(len(classes), self.means.shape[1])
        centre = self.means[seen].mean(0)
        offsets = (self.means[classes] - centre) * seen[classes, None]
        ridge = FISHER_RIDGE * self.within.diagonal().mean().clamp(min=torch.finfo(self.within.dtype).tiny)
        within = self.within + ridge * torch.eye(len(self.within), device=self.within.device)
        return torch.linalg.solve(within, offsets.T).T


def build_share(form: str, dim: int, num_labels: int) -> nn.Module:
    """The share module of ``form`` (a MODEL.JIFD.*_SHARE_FORM) for a feature of ``dim``
    dimensions and labels in [0, num_labels)."""
    if form not in SHARE_FORMS:
        raise ValueError(f"share form must be one of {SHARE_FORMS}, got {form!r}")
    return BatchShare() if form == "batch" else FisherShare(dim, num_labels)
