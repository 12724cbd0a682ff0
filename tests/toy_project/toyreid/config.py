"""Step 2: the project's config keys, under its own node, with their defaults."""
from fastreid.config import CfgNode


def add_toy_config(cfg: CfgNode) -> None:
    cfg.MODEL.TOY = CfgNode()
    # Output channels of the stride-2 conv stages before the last one; the last has
    # MODEL.BACKBONE.FEAT_DIM channels, the embedding the head pools and normalises.
    cfg.MODEL.TOY.CHANNELS = [16, 32]
