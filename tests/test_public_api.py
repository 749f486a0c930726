"""The public API is `assistant.__all__`: sorted, importable, and it exports every error."""

from __future__ import annotations

import inspect

import assistant
from assistant import errors


def test_all_is_sorted_and_every_name_exists() -> None:
    assert assistant.__all__ == sorted(assistant.__all__)
    for name in assistant.__all__:
        assert hasattr(assistant, name), name


def test_every_assistant_error_is_exported() -> None:
    classes = {name for name, value in inspect.getmembers(errors, inspect.isclass)
               if issubclass(value, errors.AssistantError)}
    assert classes <= set(assistant.__all__)


def test_every_error_message_names_a_next_step_for_the_user() -> None:
    """Library errors raised with fixed text end with what to do (spot-check the store's)."""
    from assistant.settings import Settings
    from assistant.store import Store

    try:
        Store(Settings(index_dir="/nonexistent-levelup-index")).open()
    except errors.IndexNotFoundError as exc:
        assert str(exc).endswith("Build it with: levelup ingest")
    else:  # pragma: no cover
        raise AssertionError("expected IndexNotFoundError")
