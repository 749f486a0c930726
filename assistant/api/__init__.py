"""The HTTP API (``levelup serve``) and what protects it; ``create_app`` builds it."""

from .app import create_app

__all__ = ["create_app"]
