"""Which images a tool reads, with their labels: files, folders, or list files.

A list file has one image per line, ``path [label]``, in any encoding ``vreid.data.text`` reads;
relative paths are relative to the list file's folder and must stay inside it (an absolute path
names any file), blank lines and lines starting with ``#`` are skipped; an image named twice, by
two lines or two sources, is refused. A folder is searched recursively for IMAGE_EXTENSIONS, and
the files it skips are said (``vreid.data.folders``).
The label is a word of the per-image batch key a project declares for the tools
(``vreid.projects.label_key``; e.g. a domain, ``day`` or ``night``), or its index; without such
a key a line is a path alone.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from fastreid.config import CfgNode
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from vreid.data.build import draft_size
from vreid.data.folders import image_files, is_image_name
from vreid.data.image_io import IMAGE_EXTENSIONS, read_rgb, to_rgb
from vreid.data.loader import DeviceLoader
from vreid.data.paths import SeenOnce, inside
from vreid.data.text import read_lines
from vreid.data.transforms import build_transforms
from vreid.errors import UserError
from vreid.projects import AUTO, BatchKey


@dataclass(frozen=True)
class ImageEntry:
    path: str  # the file; for an image given in memory, its name in messages ("image 3")
    label: int | None  # the value of the tools' per-image key; None when not given
    origin: str  # where the entry was named, for error messages ("list.txt:3", a folder)
    image: Image.Image | None = field(default=None, compare=False)  # an image given in memory


def in_memory(image: Image.Image | np.ndarray, index: int, label: int | None, bgr: bool = False) -> ImageEntry:
    """An entry for an image a caller holds: a PIL image of any mode, or a uint8 array
    (height, width, 3) RGB, or BGR with ``bgr`` (as OpenCV gives frames), or (height, width)
    grey, such as a tracker's crop."""
    name = f"image {index}"
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
            raise UserError(f"{name}: an array must be uint8 of shape (height, width, 3) {'BGR' if bgr else 'RGB'} "
                            f"or (height, width), got {image.dtype} {image.shape}")
        image = Image.fromarray(np.ascontiguousarray(image[..., ::-1]) if bgr and image.ndim == 3 else image)
    if not isinstance(image, Image.Image):
        raise UserError(f"{name}: expected a path, a PIL image or a uint8 array, got {type(image).__name__}")
    return ImageEntry(name, label, name, to_rgb(image))


def line_format(key: BatchKey | None) -> str:
    return f"path [{'|'.join(key.words())}]" if key is not None else "path"


def _folder(folder: str, label: int | None) -> list[ImageEntry]:
    paths = image_files(folder)
    if not paths:
        raise UserError(f"folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return [ImageEntry(p, label, folder) for p in paths]


def _list_file(path: str, label: int | None, key: BatchKey | None) -> list[ImageEntry]:
    base = os.path.dirname(path)
    entries = []
    for lineno, line in enumerate(read_lines(path), 1):
        fields, where = line.split(), f"{path}:{lineno}"
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) > (2 if key is not None else 1):
            raise UserError(f"{where}: expected '{line_format(key)}', got {len(fields)} fields "
                            "(paths with spaces are not supported)")
        image = fields[0] if os.path.isabs(fields[0]) else inside(base, fields[0], where)
        if not os.path.isfile(image):
            raise UserError(f"{where}: image {image} does not exist")
        entries.append(ImageEntry(image, key.parse(fields[1], where) if len(fields) == 2 else label, where))
    if not entries:
        raise UserError(f"list file {path} names no images")
    return entries


def _refuse_other_images(source: str) -> None:
    """A file that is not named as an image is read as a list file, unless its extension is one
    of an image format the tools do not take (a .gif crop), which would only fail to decode."""
    extension = os.path.splitext(source)[1].lower()
    if extension in Image.registered_extensions():
        raise UserError(f"input {source}: {extension} is not an image extension the tools read "
                        f"({', '.join(IMAGE_EXTENSIONS)}); convert it to one of these")


def read_inputs(sources: Sequence[str], label: str | None = None, key: BatchKey | None = None) -> list[ImageEntry]:
    """Entries of every source in order. ``label`` (a word of ``key``) applies to images that the
    list files leave without one (and to every file and folder); a list file's column wins over it."""
    if not sources:
        raise UserError("no images given: name image files, folders or list files before the KEY VALUE overrides")
    value = key.parse(label, f"--{key.option}") if key is not None and label is not None else None
    entries = []
    for source in sources:
        if os.path.isdir(source):
            entries += _folder(source, value)
        elif not os.path.isfile(source):
            raise UserError(f"input {source} not found: name an image file, a folder or a list file that exists")
        elif is_image_name(source):
            entries.append(ImageEntry(source, value, source))
        else:
            _refuse_other_images(source)
            entries += _list_file(source, value, key)
    seen = SeenOnce()
    for entry in entries:
        seen.add(entry.path, entry.origin if entry.origin != entry.path else f"input {entry.path}")
    return entries


def require_labels(entries: Sequence[ImageEntry], meta_arch: str, key: BatchKey) -> None:
    """A model that reads the key (a day-night model routes an image through its domain's
    branch) would silently change the features on a guess, so a missing label stops the tool."""
    words = "|".join(key.words())
    for e in entries:
        if e.label is None and e.image is not None:
            raise UserError(f"{meta_arch} needs the {key.option} of every image, and {e.path} has none: "
                            f"give each image's {key.option} ({words})")
        if e.label is None:
            origin = f" (from {e.origin})" if e.origin != e.path else ""
            raise UserError(f"{meta_arch} needs the {key.option} of every image, and {e.path}{origin} has none: "
                            f"pass --{key.option} {words}, or give list files a second column {words}")


def input_size(cfg: CfgNode) -> tuple[int, int]:
    """(height, width) of the images the model sees at test: the graph's fixed spatial size."""
    size = cfg.INPUT.CROP.SIZE if cfg.INPUT.CROP.ENABLED else cfg.INPUT.SIZE_TEST
    if len(size) != 2 or min(size) <= 0:
        key = "INPUT.CROP.SIZE" if cfg.INPUT.CROP.ENABLED else "INPUT.SIZE_TEST"
        raise UserError(f"{key} is {list(size)}; a graph of fixed spatial size needs [height, width]")
    return int(size[0]), int(size[1])


class ImageDataset(Dataset):
    """The test-time view of each image (fast-reid's resize, raw 0-255 pixels, files decoded as
    the evaluator decodes them) and its metadata."""

    def __init__(self, entries: Sequence[ImageEntry], cfg: CfgNode, label_key: str | None,
                 auto: Callable | None = None):
        """``auto``: the key's rule, for entries whose label is AUTO (decided on the test view)."""
        self.entries = list(entries)
        self.transform = build_transforms(cfg, is_train=False)
        self.draft = draft_size(cfg, is_train=False)
        self.label_key, self.auto, self.cfg = label_key, auto, cfg

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> dict:
        entry = self.entries[index]
        if entry.image is not None:
            image = entry.image
        else:
            listed = entry.origin != entry.path and not os.path.isdir(entry.origin)  # a list's file:line
            image = read_rgb(entry.path, entry.origin if listed else None, self.draft)
        item = {"images": self.transform(image), "img_paths": entry.path}
        if self.label_key is not None:
            item[self.label_key] = entry.label
            if entry.label == AUTO and self.auto is not None:
                item[self.label_key] = int(self.auto(item["images"][None].float(), self.cfg)[0])
        return item


def image_loader(cfg: CfgNode, entries: Sequence[ImageEntry], label_key: str | None = None,
                 auto: Callable | None = None) -> DeviceLoader:
    """Batches of TEST.IMS_PER_BATCH images, in order, on MODEL.DEVICE; with ``label_key``, the
    entries' labels under that batch key (AUTO ones decided by ``auto``). Files are decoded in
    DATALOADER.NUM_WORKERS workers; images in memory are already decoded, so they need none."""
    workers = cfg.DATALOADER.NUM_WORKERS if any(e.image is None for e in entries) else 0
    loader = DataLoader(ImageDataset(entries, cfg, label_key, auto), batch_size=cfg.TEST.IMS_PER_BATCH,
                        shuffle=False, num_workers=workers,
                        pin_memory=cfg.MODEL.DEVICE.startswith("cuda"))
    return DeviceLoader(loader, cfg.MODEL.DEVICE)
