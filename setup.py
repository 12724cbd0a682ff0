"""Installs the shared core `vreid` and the two projects `dnreid` and `jifd`.

fastreid 1.4.0 is installed separately with --no-deps (its metadata pins torch 1.13.1);
see the Makefile. Its real runtime needs are listed here instead.
"""
from setuptools import find_packages, setup

packages = find_packages(include=["vreid", "vreid.*"])
packages += find_packages("projects/DNReID", include=["dnreid", "dnreid.*"])
packages += find_packages("projects/JIFD", include=["jifd", "jifd.*"])

setup(
    name="vehicle-reid-dn",
    version="0.1.0",
    description="Day-night and domain-generalizable vehicle ReID as fast-reid projects (DNDM, JIFD)",
    python_requires=">=3.10",
    packages=packages,
    package_dir={"dnreid": "projects/DNReID/dnreid", "jifd": "projects/JIFD/jifd"},
    # The projects the core and the tools discover (vreid.projects): one line per project.
    entry_points={"vreid.projects": ["dnreid = dnreid:PROJECT", "jifd = jifd:PROJECT"]},
    # Lower bounds are the release series that requirements-lock.txt pins and CI tests (older
    # ones may work, untested); upper bounds are fastreid 1.4.0's own ranges. The one deliberate
    # step past them: fastreid pins torch 1.13.1 / torchvision 0.14.1, which have no Python 3.11
    # wheels, and vreid.compat is what makes fastreid run on torch 2.
    install_requires=[
        "torch>=2.14",
        "torchvision>=0.29",
        "numpy>=2.4",
        "Pillow>=13",
        "PyYAML>=6.0",
        "fvcore>=0.1.5",
        "iopath>=0.1.10",
        "tqdm>=4.70",  # progress bars of the post-training tools
        # fastreid 1.4.0's own runtime imports (it is installed with --no-deps), in its ranges
        "termcolor>=2.5,<3",
        "tabulate>=0.9,<0.10",
        "yacs>=0.1.8,<0.2",
        "faiss-cpu>=1.15,<2",
        "scipy>=1.17",
        "scikit-learn>=1.9,<2",
        "tensorboard>=2.21,<3",
        "opencv-python-headless>=4.14,<5",
        "matplotlib>=3.11",
        "gdown>=6.5",
    ],
    package_data={"vreid.serve": ["page.html"]},  # the search page tools/serve.py serves at /
    extras_require={
        # pytest-xdist: make test's parallel workers; ruff: the lint test (ruff.toml); playwright
        # drives Debian's chromium in the search page's test (its browser is never downloaded);
        # requests: the service tests' HTTP client
        "test": ["pytest>=9.2", "pytest-xdist>=3.8", "ruff>=0.17", "playwright>=1.65", "requests>=2.34"],
        "deploy": ["onnx>=1.23", "onnxruntime>=1.32"],
        # tools/serve.py: the ASGI app, its server, and the multipart uploads it reads
        "serve": ["starlette>=1.10", "uvicorn>=0.55", "python-multipart>=0.0.34"],
    },
)
