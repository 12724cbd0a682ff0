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
    install_requires=[
        "torch>=2.1",
        "torchvision>=0.16",
        "numpy",
        "Pillow",
        "PyYAML",
        "fvcore",
        "iopath",
        "termcolor",
        "tabulate",
        "tqdm",  # progress bars of the post-training tools
        # fastreid 1.4.0's own runtime imports (it is installed with --no-deps)
        "yacs",
        "faiss-cpu",
        "scipy",
        "scikit-learn",
        "tensorboard",
        "opencv-python-headless",
        "matplotlib",
        "gdown",
    ],
    extras_require={
        "test": ["pytest>=7"],
        "deploy": ["onnx", "onnxruntime"],
    },
)
