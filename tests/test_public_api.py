"""The public API is `assistant.__all__`: sorted, importable, complete, and it exports every error."""

from __future__ import annotations

import inspect

import assistant
from assistant import errors


def test_all_is_sorted_and_every_name_exists() -> None:
    assert assistant.__all__ == sorted(assistant.__all__)
    for name in assistant.__all__:
        assert hasattr(assistant, name), name


def test_every_public_name_of_the_package_is_exported() -> None:
    """Both ways: nothing the package puts on its top level is left out of ``__all__`` (its
    sub-packages and modules aside), and nothing in ``__all__`` is missing from it."""
    public = sorted(name for name, value in vars(assistant).items()
                    if not name.startswith("_") and not inspect.ismodule(value))
    assert assistant.__all__ == public


def test_every_assistant_error_is_exported() -> None:
    classes = {name for name, value in inspect.getmembers(errors, inspect.isclass)
               if issubclass(value, errors.AssistantError)}
    assert classes <= set(assistant.__all__)


def test_the_store_error_names_the_next_step() -> None:
    """Library errors raised with fixed text end with what to do (here, the store's)."""
    from assistant.index.store import Store
    from assistant.settings import Settings

    try:
        Store(Settings(index_dir="/nonexistent-levelup-index")).open()
    except errors.IndexNotFoundError as exc:
        assert str(exc).endswith("Build it with: levelup ingest")
    else:  # pragma: no cover
        raise AssertionError("expected IndexNotFoundError")

