"""Which images a tool reads, with their domains: files, folders, or list files.

A list file has one image per line, ``path [domain]``; relative paths are relative to the list
file's folder, blank lines and lines starting with ``#`` are skipped. ``domain`` is ``day`` or
``night`` (or 0 / 1), the label the day-night models read (day 0, night 1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

from torch.utils.data import DataLoader, Dataset

from fastreid.config import CfgNode
from fastreid.data.data_utils import read_image
from fastreid.data.transforms import build_transforms

from vreid.data.loader import DeviceLoader
from vreid.errors import UserError

DOMAIN_NAMES = ("day", "night")  # index = label
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class ImageEntry:
    path: str
    domain: int | None
    origin: str  # where the entry was named, for error messages ("list.txt:3", a folder)


def parse_domain(text: str, where: str) -> int:
    word = text.strip().lower()
    if word in DOMAIN_NAMES:
        return DOMAIN_NAMES.index(word)
    if word in ("0", "1"):
        return int(word)
    raise UserError(f"{where}: unknown domain {text!r}; use day or night (0 or 1)")


def is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)


def _folder(folder: str, domain: int | None) -> list[ImageEntry]:
    paths = sorted(os.path.join(top, name) for top, _, names in os.walk(folder) for name in names if is_image(name))
    if not paths:
        raise UserError(f"folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return [ImageEntry(p, domain, folder) for p in paths]


def _list_file(path: str, domain: int | None) -> list[ImageEntry]:
    base = os.path.dirname(path)
    entries = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields, where = line.split(), f"{path}:{lineno}"
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) > 2:
                raise UserError(f"{where}: expected 'path [day|night]', got {len(fields)} fields "
                                "(paths with spaces are not supported)")
            image = os.path.join(base, fields[0])
            if not os.path.isfile(image):
                raise UserError(f"{where}: image {image} does not exist")
            entries.append(ImageEntry(image, parse_domain(fields[1], where) if len(fields) == 2 else domain, where))
    if not entries:
        raise UserError(f"list file {path} names no images")
    return entries


def read_inputs(sources: Sequence[str], domain: str | None = None) -> list[ImageEntry]:
    """Entries of every source in order. ``domain`` applies to images that the list files leave
    without one (and to every file and folder); a list file's domain column wins over it."""
    if not sources:
        raise UserError("no images given: name image files, folders or list files before the KEY VALUE overrides")
    label = parse_domain(domain, "--domain") if domain is not None else None
    entries = []
    for source in sources:
        if os.path.isdir(source):
            entries += _folder(source, label)
        elif not os.path.isfile(source):
            raise UserError(f"input {source} is neither an image, a folder nor a list file")
        elif is_image(source):
            entries.append(ImageEntry(source, label, source))
        else:
            entries += _list_file(source, label)
    return entries


def require_domains(entries: Sequence[ImageEntry], meta_arch: str) -> None:
    """The day-night models embed an image through its domain's branch; a guess would silently
    change the features, so a missing domain stops the tool."""
    for e in entries:
        if e.domain is None:
            origin = f" (from {e.origin})" if e.origin != e.path else ""
            raise UserError(f"{meta_arch} needs the domain of every image, and {e.path}{origin} has none: "
                            "pass --domain day|night, or give list files a second column day|night")


class ImageFileDataset(Dataset):
    """The test-time view of each image (fast-reid's resize, raw 0-255 pixels) and its metadata."""

    def __init__(self, entries: Sequence[ImageEntry], cfg: CfgNode, with_domains: bool):
        self.entries = list(entries)
        self.transform = build_transforms(cfg, is_train=False)
        self.with_domains = with_domains

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> dict:
        entry = self.entries[index]
        try:
            image = read_image(entry.path)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot read image {entry.path} (from {entry.origin}): {e}") from None
        item = {"images": self.transform(image), "img_paths": entry.path}
        if self.with_domains:
            item["domains"] = entry.domain
        return item


def image_loader(cfg: CfgNode, entries: Sequence[ImageEntry], with_domains: bool) -> DeviceLoader:
    """Batches of TEST.IMS_PER_BATCH images, in order, on MODEL.DEVICE."""
    loader = DataLoader(ImageFileDataset(entries, cfg, with_domains), batch_size=cfg.TEST.IMS_PER_BATCH,
                        shuffle=False, num_workers=cfg.DATALOADER.NUM_WORKERS,
                        pin_memory=cfg.MODEL.DEVICE.startswith("cuda"))
    return DeviceLoader(loader, cfg.MODEL.DEVICE)
