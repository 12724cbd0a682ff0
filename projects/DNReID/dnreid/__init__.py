"""DNReID: day-night cross-domain vehicle ReID (DNDM, CVPR 2024) as a fast-reid project.

Importing it registers the DN datasets, the paired sampler and the DNDM meta-architecture;
``PROJECT`` declares them, the day/night batch key, the config keys, the synthetic layout and the
GPU check's rows to the core (setup.py names it under the ``vreid.projects`` entry points): DNDM
against fast-reid's BoT on DN-Wild's configs, DNDM without CCA for CCA's cost, and the loader of
the synthetic day-night set.
"""
import vreid  # noqa: F401  (fast-reid compat first)
from vreid.projects import BenchmarkRow, ProjectSpec, SamplerSpec

from dnreid import data, modeling  # noqa: F401
from dnreid.data import veriwild_dn
from dnreid.config import add_dnreid_config
from dnreid.domains import DOMAIN
from dnreid.synthetic import LAYOUT

PROJECT = ProjectSpec(
    name="dnreid",
    add_config=add_dnreid_config,
    meta_architectures=("DNDM",),
    datasets=tuple(f"{name}{protocol}" for name in ("DN348", "DNWild", "SynDN") for protocol in ("", "_D2N", "_N2D"))
    + tuple(f"{name}_{protocol}_release" for name in ("DNWild", "SynDN") for protocol in ("D2N", "N2D"))
    + veriwild_dn.NAMES,
    samplers=(SamplerSpec("PairedIdentitySampler", blocks_of=DOMAIN.name),),
    batch_keys=(DOMAIN,),
    synthetic_layouts=(LAYOUT,),
    benchmark_rows=(BenchmarkRow("BoT", "configs/dnwild/bot.yml"), BenchmarkRow("DNDM", "configs/dnwild/dndm.yml"),
                    BenchmarkRow("DNDM without CCA", "configs/dnwild/dndm.yml MODEL.DNDM.CCA.ENABLED False"),
                    BenchmarkRow("loader", "configs/synthetic/dndm.yml", measure="loader")),
)

__all__ = ["PROJECT", "add_dnreid_config"]
