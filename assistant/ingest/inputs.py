"""What an ingest reads: the manifest's fetched documents, or files and folders given by hand.

Loose files get their citation data from a MANIFEST.json beside them (the project's own
format, or a plain list like ``../shared/corpus/MANIFEST.json``), else from their name; they
are then cited honestly as "Unknown publisher" rather than guessed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError
from ..models import IngestReport, Source
from ..settings import Settings
from .load import SUPPORTED_SUFFIXES
from .sources import load_manifest, local_path, read_manifest


@dataclass(frozen=True, slots=True)
class IngestItem:
    """A file to index and the source record it will be cited as."""

    path: Path
    source: Source


# --- what to ingest ----------------------------------------------------------------------

def manifest_items(settings: Settings, report: IngestReport) -> list[IngestItem]:
    """The manifest's documents that have been fetched; the others are reported as skipped."""
    items = []
    for source in load_manifest(settings).documents:
        path = local_path(source, settings)
        if path.is_file():
            items.append(IngestItem(path, source))
        else:
            report.skipped.append((source.id, f"not fetched ({path} is missing); run: levelup fetch"))
    return items


def path_items(paths: Sequence[Path], report: IngestReport) -> list[IngestItem]:
    """Files and folders given on the command line; a MANIFEST.json beside them supplies metadata."""
    items: list[IngestItem] = []
    for path in paths:
        if not path.exists():
            report.failed.append((str(path), "does not exist; check the path"))
            continue
        if path.is_dir():
            try:
                everything = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]
            except PermissionError:
                report.failed.append((str(path), "cannot be read (permission denied)"))
                continue
            files = sorted(p for p in everything if p.suffix.lower() in SUPPORTED_SUFFIXES)
            others = sorted({p.suffix.lower() or "(no extension)" for p in everything
                             if p not in files and p.name != "MANIFEST.json"})
            if others:
                skipped = len(everything) - len(files) - sum(p.name == "MANIFEST.json" for p in everything)
                report.warnings.append(f"{path}: skipped {skipped} file(s) of types not indexed "
                                       f"({', '.join(others)}); convert them to PDF, .md, .txt or .html")
            if not files:
                unreadable = not _can_list(path)
                report.failed.append((str(path), "cannot be read (permission denied)" if unreadable else
                                      "contains no PDF, .md, .txt or .html files"))
                continue
        else:
            files = [path]
        for file in files:
            items.append(IngestItem(file, _source_for(file)))
    return _unique_ids(items)


def _can_list(path: Path) -> bool:
    try:
        next(path.iterdir(), None)
        return True
    except PermissionError:
        return False


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "document"


def _source_for(file: Path) -> Source:
    """Metadata for a loose file: from a MANIFEST.json in its folder (or a parent), else from its name."""
    for folder in [file.parent, *file.parent.parents][:3]:
        manifest = folder / "MANIFEST.json"
        if manifest.is_file():
            relative = file.relative_to(folder).as_posix()
            entry = _manifest_entry(manifest, relative)
            if entry is not None:
                return entry
    return Source(id=_slug(file.stem), title=re.sub(r"[-_]+", " ", file.stem).strip().capitalize(),
                  publisher="Unknown publisher (no MANIFEST.json beside the file)", published="",
                  licence="Unknown: check before reuse", file=str(file), kind="local", relation="related")


def _manifest_entry(manifest: Path, relative: str) -> Source | None:
    """The entry for ``relative`` in a project manifest or in a plain list like ../shared's."""
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(raw, dict) and "documents" in raw:
        try:
            return next((s for s in read_manifest(manifest).documents if s.file == relative), None)
        except ConfigurationError:
            return None
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and entry.get("file") == relative:
            url = entry.get("official_url") or entry.get("url")
            return Source(
                id=_slug(Path(relative).stem), title=str(entry.get("title") or Path(relative).stem),
                publisher=str(entry.get("publisher") or ""), published=str(entry.get("published") or ""),
                licence=str(entry.get("licence") or ""), file=relative,
                url=str(url).split(" ")[0] if url else None,
                kind="commentary" if "not OGL" in str(entry.get("licence")) else "government",
                relation="related",
            )
    return None


def _unique_ids(items: list[IngestItem]) -> list[IngestItem]:
    seen: dict[str, int] = {}
    result = []
    for item in items:
        count = seen[item.source.id] = seen.get(item.source.id, 0) + 1
        if count > 1:
            suffix = hashlib.sha256(str(item.path).encode()).hexdigest()[:6]
            item = IngestItem(item.path, _with_id(item.source, f"{item.source.id}-{suffix}"))
        result.append(item)
    return result


def _with_id(source: Source, new_id: str) -> Source:
    values = source.to_dict()
    values["id"] = new_id
    return Source(**values)
