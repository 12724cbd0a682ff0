"""A model whose per-image labels come from the pixels, by each batch key's rule (``BatchKey.auto``).

Deployment has no lighting label for a tracker's crop; evaluating with ``TEST.AUTO_LABELS True``
measures what that costs against the dataset's true labels, and the tracker export traces the same
module so its graph decides the labels inside.
"""
from __future__ import annotations

from typing import Callable, Mapping

from torch import Tensor, nn

from fastreid.config import CfgNode

from vreid.errors import UserError
from vreid.modeling.build import eval_inputs
from vreid.projects import BatchKey


def label_rules(model: nn.Module, keys: Mapping[str, BatchKey]) -> dict[str, Callable]:
    """The rule of every labelled key the model reads; a key it reads without one is refused,
    since nothing could then give that label to an image alone."""
    reads = [name for name in eval_inputs(model) if name != "images"]
    lacking = [name for name in reads if name not in keys or keys[name].auto is None]
    if lacking:
        raise UserError(f"{type(model).__name__} reads {lacking}, which no rule decides from the image; "
                        "it needs those labels given")
    return {name: keys[name].auto for name in reads}


class AutoLabels(nn.Module):
    """``model`` with each labelled batch key it reads replaced by its rule's decision on the
    batch's raw 0-255 images (whatever the batch says)."""

    def __init__(self, model: nn.Module, keys: Mapping[str, BatchKey], cfg: CfgNode):
        super().__init__()
        self.model = model
        self.rules = label_rules(model, keys)
        self.cfg = cfg
        self.eval_inputs = ("images",)  # what this module needs from a batch

    def forward(self, batch: dict) -> Tensor:
        decided = {name: rule(batch["images"], self.cfg) for name, rule in self.rules.items()}
        return self.model({**batch, **decided})
