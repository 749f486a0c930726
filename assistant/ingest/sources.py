"""The project's sources: the manifest that lists them, and ``fetch``, which puts them on disk.

Source texts are never committed. ``corpus/manifest.json`` says what each one is, how to credit
it, where its official copy lives and what its bytes hash to, so any machine can rebuild
``corpus/documents/`` offline from a mirror folder or online from the official addresses::

    report = fetch(settings, mirror=Path("../shared/corpus"))

Mirror layout (one setting serves both lists): a document's ``mirror_path`` is relative to the
mirror folder itself (``../shared/corpus`` -> ``pdf/x.pdf``); a dataset's ``mirror_path`` is
relative to the mirror's *parent* (``places/x.csv``), because the shared ``corpus/`` and
``places/`` folders are siblings.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import urllib.error
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.request import OpenerDirector, Request, build_opener

from tqdm import tqdm

from ..errors import ConfigurationError, SourceError
from ..models import Source
from ..settings import Settings, get_settings

#: Fields a manifest entry may carry beyond ``Source``'s: informative only, dropped on load.
EXTRA_FIELDS = frozenset({"vintage", "bytes", "pages"})
KINDS = frozenset({"government", "commentary"})
RELATIONS = frozenset({"core", "related"})
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 16
_BAR = {"unit": "B", "unit_scale": True, "unit_divisor": 1024, "leave": False}


@dataclass(frozen=True, slots=True)
class Manifest:
    """Everything the project can fetch: documents to index and place lookup tables."""

    documents: tuple[Source, ...]
    datasets: tuple[Source, ...]

    @property
    def sources(self) -> tuple[Source, ...]:
        return self.documents + self.datasets


@dataclass(slots=True)
class FetchReport:
    """What one ``fetch`` did, per source id; skipped sources are not failures."""

    fetched: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, reason and next step)

    @property
    def ok(self) -> bool:
        return not self.failed


def load_manifest(settings: Settings | None = None) -> Manifest:
    """The manifest at ``settings.manifest_path`` (``corpus/manifest.json``)."""
    settings = get_settings(settings)
    return read_manifest(settings.manifest_path)


def read_manifest(path: Path) -> Manifest:
    """Parse and check a manifest file, so a typo fails here, naming the entry and field.

    Raises ``ConfigurationError`` for a missing or malformed file.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"No source manifest at {path}. Point LEVELUP_CORPUS_DIR at the folder holding manifest.json."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"Cannot read the source manifest {path}: {exc}.") from exc
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). Fix the file."
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("documents"), list):
        raise ConfigurationError(f"{path} must be a JSON object with a 'documents' list. Fix the file.")
    unknown = sorted(set(data) - {"documents", "datasets"})
    if unknown:
        raise ConfigurationError(
            f"{path}: unknown top-level key(s) {unknown}; expected 'documents', 'datasets'."
        )
    datasets = data.get("datasets", [])
    if not isinstance(datasets, list):
        raise ConfigurationError(f"{path}: 'datasets' must be a list. Fix the file.")
    manifest = Manifest(
        documents=tuple(_parse_entry(path, "documents", i, e) for i, e in enumerate(data["documents"])),
        datasets=tuple(_parse_entry(path, "datasets", i, e) for i, e in enumerate(datasets)),
    )
    seen: set[str] = set()
    for source in manifest.sources:
        if source.id in seen:
            raise ConfigurationError(f"{path}: id {source.id!r} is used twice; ids must be unique.")
        seen.add(source.id)
    return manifest


def _parse_entry(path: Path, section: str, index: int, entry: Any) -> Source:
    """One entry -> ``Source``; every message names the file, the entry and the field."""
    where = f"{path}: {section}[{index}]"
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where} must be a JSON object. Fix that entry.")
    if isinstance(entry.get("id"), str):
        where += f" (id {entry['id']!r})"

    def bad(name: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{where}: field {name!r} {problem}. Fix that entry.")

    values: dict[str, Any] = {}
    for spec in fields(Source):
        value = entry.get(spec.name, None if spec.default is MISSING else spec.default)
        if spec.default is MISSING and (not isinstance(value, str) or not value.strip()):
            raise bad(spec.name, "is required and must be a non-empty string")
        if not isinstance(value, str) and not (value is None and spec.default is None):
            raise bad(
                spec.name, f"must be a string{' or null' if spec.default is None else ''}, got {value!r}"
            )
        values[spec.name] = value
    unknown = sorted(set(entry) - set(values) - EXTRA_FIELDS)
    if unknown:
        raise bad(unknown[0], f"is not a known field (allowed extras: {', '.join(sorted(EXTRA_FIELDS))})")

    if not _SLUG.match(values["id"]):
        raise bad("id", "must be a lowercase slug such as 'green-book-2026'")
    if values["kind"] not in KINDS:
        raise bad("kind", f"must be one of {sorted(KINDS)}, got {values['kind']!r}")
    if values["relation"] not in RELATIONS:
        raise bad("relation", f"must be one of {sorted(RELATIONS)}, got {values['relation']!r}")
    if values["sha256"] is not None and not _SHA256.match(values["sha256"]):
        raise bad("sha256", "must be 64 lowercase hex digits or null")
    for name in ("url", "download_url"):
        if values[name] is not None and not values[name].startswith(("https://", "http://")):
            raise bad(name, "must be an http(s) address or null")
    for name in ("file", "mirror_path"):
        value = values[name]
        if value is not None and (PurePosixPath(value).is_absolute() or ".." in PurePosixPath(value).parts):
            raise bad(name, "must be a relative path that stays inside its folder")
    if section == "datasets" and not values["file"].startswith("datasets/"):
        raise bad("file", "must start with 'datasets/' for a dataset")
    return Source(**values)


def local_path(source: Source, settings: Settings | None = None) -> Path:
    """Where ``fetch`` puts ``source`` and the loaders read it.

    Documents and datasets alike resolve under ``settings.documents_dir``; a dataset's ``file``
    starts with ``datasets/``, so it lands in ``settings.datasets_dir``.
    """
    settings = get_settings(settings)
    return settings.documents_dir / source.file


def fetch(
    settings: Settings | None = None,
    *,
    mirror: Path | None = None,
    only: Iterable[str] | None = None,
    progress: bool = True,
    client: OpenerDirector | None = None,
) -> FetchReport:
    """Put every source (or the ids in ``only``) at its ``local_path``, verified.

    With a mirror (``mirror``, else ``settings.corpus_mirror``) files are copied from it and the
    network is never used: sources it lacks are *skipped*, not failed. Without one, files are
    downloaded from ``download_url`` into ``<file>.part`` (resumed with a ``Range`` request on
    the next run) and moved into place only once their sha256 matches. A file already present
    with the right checksum (or any present file when no checksum is known) is left alone
    without touching the network. One source failing never stops the others.

    ``client`` is the ``urllib`` opener to send requests through (e.g. one built with a proxy
    handler); ``progress=False`` hides the per-download tqdm bar.
    """
    settings = get_settings(settings)
    manifest = load_manifest(settings)
    mirror = mirror if mirror is not None else settings.corpus_mirror
    if mirror is not None and not mirror.is_dir():
        raise ConfigurationError(
            f"Mirror folder {mirror} does not exist. Point --mirror or LEVELUP_CORPUS_MIRROR at a folder "
            "like ../shared/corpus, or leave it unset to download."
        )
    wanted = None if only is None else set(only)
    if wanted is not None and (unknown := wanted - {s.id for s in manifest.sources}):
        raise ConfigurationError(
            f"Unknown source id(s) {sorted(unknown)}; the ids are listed in {settings.manifest_path}."
        )
    opener = client or build_opener()
    dataset_root = mirror.resolve().parent if mirror is not None else None
    plan = [(s, mirror) for s in manifest.documents] + [(s, dataset_root) for s in manifest.datasets]

    report = FetchReport()
    for source, root in plan:
        if wanted is not None and source.id not in wanted:
            continue
        dest = local_path(source, settings)
        origin = root / source.mirror_path if root is not None and source.mirror_path else None
        try:
            if dest.is_file() and _is_current(dest, source):
                report.up_to_date.append(source.id)
            elif reason := _why_skip(source, origin, mirror, dest):
                report.skipped.append((source.id, reason))
            elif origin is not None:
                _copy_from_mirror(source, origin, dest, progress)
                report.fetched.append(source.id)
            else:
                _download(source, dest, settings.fetch_timeout, opener, progress)
                report.fetched.append(source.id)
        except SourceError as exc:
            report.failed.append((source.id, exc.reason))
    return report


def describe(report: FetchReport) -> list[str]:
    """One line per source, then a total: what the CLI prints after a fetch."""
    lines = [f"fetched     {source_id}" for source_id in report.fetched]
    lines += [f"up to date  {source_id}" for source_id in report.up_to_date]
    lines += [f"skipped     {source_id}: {reason}" for source_id, reason in report.skipped]
    lines += [f"FAILED      {source_id}: {reason}" for source_id, reason in report.failed]
    lines.append(
        f"{len(report.fetched)} fetched, {len(report.up_to_date)} up to date, "
        f"{len(report.skipped)} skipped, {len(report.failed)} failed"
    )
    return lines


def _why_skip(source: Source, origin: Path | None, mirror: Path | None, dest: Path) -> str | None:
    """Why ``source`` cannot be fetched here (a skip, not a failure), or None if it can."""
    if mirror is None:
        if source.download_url:
            return None
        return (
            f"no download address known: copy it by hand into {dest}, "
            "or run `levelup fetch --mirror DIR` with a folder that holds it"
        )
    if origin is not None and origin.is_file():
        return None
    if source.download_url:
        return f"not in mirror {mirror} (run `levelup fetch` online to download it)"
    return f"not in mirror {mirror}, and no download address is known: copy it by hand into {dest}"


def _is_current(path: Path, source: Source) -> bool:
    """Whether a present file can stay: it matches the checksum, or there is none to check."""
    return source.sha256 is None or _sha256(path) == source.sha256


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _copy_from_mirror(source: Source, origin: Path, dest: Path, progress: bool) -> None:
    """Copy through ``.part`` like a download, so a bad mirror copy never reaches ``dest``."""
    part = _part_path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with origin.open("rb") as src, part.open("wb") as out:
            _stream(src, out, source.id, origin.stat().st_size, 0, progress)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise SourceError(source.id, f"cannot copy {origin} to {part}: {exc}") from exc
    _finish(source, part, dest, origin=str(origin))


def _download(source: Source, dest: Path, timeout: float, opener: OpenerDirector, progress: bool) -> None:
    """Download ``source.download_url`` into ``dest.part``, continuing a previous partial download if any.

    Servers that ignore ``Range`` answer 200 with the whole file: the ``.part`` is rewritten
    from the start. 416 (range not satisfiable) means the ``.part`` already holds every byte.
    """
    url = source.download_url or ""
    part = _part_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "levelup-assistant (levelup fetch)"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = opener.open(Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            _finish(source, part, dest, origin=url)
            return
        raise SourceError(source.id, _http_advice(exc.code, url, source, dest)) from exc
    except (OSError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors
        raise SourceError(source.id, _network_advice(exc, url, timeout)) from exc

    with response:
        resumed = offset > 0 and response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
            part.unlink(missing_ok=True)
            raise SourceError(
                source.id,
                f"{url} answered an unexpected range; the partial file was "
                "discarded: run `levelup fetch` again",
            )
        start = offset if resumed else 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        try:
            with part.open("ab" if resumed else "wb") as out:
                written = _stream(response, out, source.id, total, start, progress)
        except (OSError, http.client.HTTPException) as exc:
            kept = part.stat().st_size if part.is_file() else 0
            raise SourceError(
                source.id,
                f"download from {url} interrupted after {kept} bytes ({exc}); "
                "run `levelup fetch` again to resume",
            ) from exc
    if total is not None and start + written < total:
        raise SourceError(
            source.id,
            f"{url} closed the connection after {start + written} of {total} bytes; "
            "run `levelup fetch` again to resume",
        )
    _finish(source, part, dest, origin=url)


def _stream(src: Any, out: BinaryIO, label: str, total: int | None, start: int, progress: bool) -> int:
    """Copy ``src`` to ``out`` in blocks under a byte progress bar; returns the bytes copied."""
    written = 0
    with tqdm(total=total, initial=start, desc=label, disable=not progress, **_BAR) as bar:
        while block := src.read(_CHUNK):
            out.write(block)
            written += len(block)
            bar.update(len(block))
    return written


def _finish(source: Source, part: Path, dest: Path, *, origin: str) -> None:
    """Verify ``part`` and move it onto ``dest`` atomically; a bad file is deleted, never kept."""
    if source.sha256 is not None:
        digest = _sha256(part)
        if digest != source.sha256:
            part.unlink(missing_ok=True)
            raise SourceError(
                source.id,
                f"checksum mismatch for {origin}: expected sha256 {source.sha256[:12]}..., "
                f"got {digest[:12]}...; the file was not kept. "
                "If the publisher changed it, check it and update sha256 in the manifest",
            )
    elif source.is_pdf:
        with part.open("rb") as handle:
            is_pdf = handle.read(5) == b"%PDF-"
        if not is_pdf:
            part.unlink(missing_ok=True)
            raise SourceError(
                source.id,
                f"{origin} did not return a PDF (an error page?); the file was not kept. "
                f"Download it by hand from {source.url or origin} into {dest}",
            )
    os.replace(part, dest)


def _http_advice(code: int, url: str, source: Source, dest: Path) -> str:
    if code in (404, 410):
        where = f" (look for it on {source.url})" if source.url else ""
        return f"HTTP {code} from {url}: the address may have moved{where}; download it by hand into {dest}"
    if code in (401, 403):
        return f"HTTP {code} from {url}: access refused; download it by hand in a browser into {dest}"
    if code >= 500:
        return f"HTTP {code} from {url}: the server is failing; run `levelup fetch` again later"
    return f"HTTP {code} from {url}; download it by hand into {dest}"


def _network_advice(exc: BaseException, url: str, timeout: float) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return (
            f"no data from {url} for {timeout:g}s; check the connection or raise LEVELUP_FETCH_TIMEOUT, "
            "then run `levelup fetch` again"
        )
    return f"cannot reach {url} ({reason}); check the connection, or use `levelup fetch --mirror DIR` offline"
