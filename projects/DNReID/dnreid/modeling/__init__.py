"""DNDM: the NGS, DSE and CCA modules (torch only) and the DNDM meta-architecture."""
from .cca import CCA, cross_domain_exchange
from .dndm import DNDM
from .dse import DSE
from .glare import glare_mask
from .ngs import NGS, glare_attention_loss

__all__ = ["NGS", "DSE", "CCA", "DNDM", "glare_mask", "glare_attention_loss", "cross_domain_exchange"]
