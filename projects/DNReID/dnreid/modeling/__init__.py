"""DNDM modules (spec DNDM.md): NGS, DSE, CCA. Depends on torch only."""
from .cca import CCA, cross_domain_exchange
from .dse import DSE
from .glare import glare_mask
from .ngs import NGS, glare_attention_loss

__all__ = ["NGS", "DSE", "CCA", "glare_mask", "glare_attention_loss", "cross_domain_exchange"]
