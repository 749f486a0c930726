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
from .load import NOT_A_FILE, SUPPORTED_SUFFIXES, oversize
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
        if path.is_file() and (problem := too_big(path, settings)):
            report.failed.append((str(path), problem))
        elif path.is_file():
            items.append(IngestItem(path, source))
        else:
            report.skipped.append((source.id, f"not fetched ({path} is missing); run: levelup fetch"))
    return items


EMPTY_PATH = "an empty path was given; name a file or folder (use . for the current folder)"


def path_items(paths: Sequence[Path | str], report: IngestReport, settings: Settings) -> list[IngestItem]:
    """Files and folders given on the command line; a MANIFEST.json beside them supplies metadata.

    Only regular files are read: a named pipe or a device (``/dev/zero``) would never end, so it is
    refused by name, as is a file over ``max_file_mb``."""
    items: list[IngestItem] = []
    warnings: list[str] = []
    for given in paths:
        if not str(given).strip():  # Path("") would be the current folder: never what was meant
            report.failed.append(("(empty path)", EMPTY_PATH))
            continue
        path = Path(given)
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
        elif not path.is_file():
            report.failed.append((str(path), NOT_A_FILE))
            continue
        else:
            files = [path]
        for file in files:
            problem = too_big(file, settings)
            if problem:
                report.failed.append((str(file), problem))
            else:
                items.append(IngestItem(file, _source_for(file, warnings)))
    report.warnings.extend(dict.fromkeys(warnings))
    return _unique_ids(items)


def too_big(path: Path, settings: Settings) -> str | None:
    """Why ``path`` is too large to index, or None (checked before its bytes are hashed)."""
    return oversize(path.stat().st_size, settings.max_file_mb * 1e6)


def _can_list(path: Path) -> bool:
    try:
        next(path.iterdir(), None)
        return True
    except PermissionError:
        return False


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "document"


_UNKNOWN_LICENCE = "Unknown: check before reuse"


def _source_for(file: Path, warnings: list[str]) -> Source:
    """Metadata for a loose file: from a MANIFEST.json in its folder (or a parent), else from its name.

    A MANIFEST.json that cannot be read, or lacks the file, or leaves fields empty is said in
    ``warnings``, and the citation says what is unknown rather than showing blanks."""
    why = "no MANIFEST.json beside the file"
    for folder in [file.parent, *file.parent.parents][:3]:
        manifest = folder / "MANIFEST.json"
        if manifest.is_file():
            relative = file.relative_to(folder).as_posix()
            entry, why = _manifest_entry(manifest, relative, warnings)
            if entry is not None:
                return entry
            break
    return Source(id=_slug(file.stem), title=re.sub(r"[-_]+", " ", file.stem).strip().capitalize(),
                  publisher=f"Unknown publisher ({why})", published="", licence=_UNKNOWN_LICENCE,
                  file=str(file), kind="local", relation="related")


def _manifest_entry(manifest: Path, relative: str, warnings: list[str]) -> tuple[Source | None, str]:
    """The entry for ``relative`` in a project manifest or in a plain list like ../shared's, or None
    and why there is none."""
    try:
        raw = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        warnings.append(f"{manifest}: cannot be read as a manifest ({exc}); the files beside it are cited "
                        "as from an unknown publisher. Fix the file and ingest again")
        return None, "its MANIFEST.json could not be read"
    if isinstance(raw, dict) and "documents" in raw:
        try:
            found = next((s for s in read_manifest(manifest).documents if s.file == relative), None)
        except ConfigurationError as exc:
            warnings.append(f"{exc} The files beside it are cited as from an unknown publisher")
            return None, "its MANIFEST.json could not be read"
        return found, "not listed in its MANIFEST.json"
    if not isinstance(raw, list):
        warnings.append(f"{manifest}: is neither a list of entries nor an object with 'documents'; the "
                        "files beside it are cited as from an unknown publisher")
        return None, "its MANIFEST.json could not be read"
    for entry in raw:
        if isinstance(entry, dict) and entry.get("file") == relative:
            missing = [f for f in ("title", "publisher", "published", "licence") if not entry.get(f)]
            if missing:
                warnings.append(f"{manifest}: the entry for {relative} has no {', '.join(missing)}; its "
                                "citations say so")
            url = entry.get("official_url") or entry.get("url")
            return Source(
                id=_slug(Path(relative).stem), title=str(entry.get("title") or Path(relative).stem),
                publisher=str(entry.get("publisher") or "Unknown publisher (not in its MANIFEST.json entry)"),
                published=str(entry.get("published") or ""),
                licence=str(entry.get("licence") or _UNKNOWN_LICENCE), file=relative,
                url=str(url).split(" ")[0] if url else None,
                kind="commentary" if "not OGL" in str(entry.get("licence")) else "government",
                relation="related",
            ), ""
    return None, "not listed in its MANIFEST.json"


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
