"""ToyReID: the core's test project, built by the steps of docs/new_project.md and nothing else,
so the walkthrough is tested wherever the core tests run (and tests/test_new_project_walkthrough.py
fails when the page no longer shows these files as they are).

Step 1 is the package layout (``tests/toy_project/toyreid/`` stands for
``projects/<Name>/<package>/``); step 2 the config hook (``config.py``); step 3 the dataset
(``data.py``); step 4 the meta-architecture (``modeling.py``); step 5 the synthetic layout
(``synthetic.py``); step 6 this declaration; step 7 the entry-point line, which the tests write
into a ``*.dist-info`` folder as ``pip install`` would (tests/conftest.py, ``toy_dist``); step 8
the configs (``tests/toy_project/configs/``) and tests (the core's ``tests/``).

The model is a three-layer conv net with fast-reid's BNNeck head, ~40x cheaper than ResNet-18,
so the core's end-to-end tests cost less than they did on fast-reid's BoT.
"""
import vreid  # noqa: F401  (fast-reid compat first)
from vreid.projects import ProjectSpec

from toyreid import data, modeling  # noqa: F401  (registration by decorator)
from toyreid.config import add_toy_config
from toyreid.synthetic import LAYOUT

PROJECT = ProjectSpec(
    name="toyreid",
    add_config=add_toy_config,
    meta_architectures=("ToyNet",),
    datasets=("ToyReID",),
    synthetic_layouts=(LAYOUT,),
)

__all__ = ["PROJECT", "add_toy_config"]
