"""Token Budget: see and steer what fills a language model's context window."""

from importlib import metadata as _metadata
from pathlib import Path as _Path


def _version() -> str:
    """The version written once, in pyproject.toml: from the installed metadata, or from
    the file itself in a checkout that was never installed."""
    try:
        return _metadata.version("token-budget")
    except _metadata.PackageNotFoundError:
        import tomllib

        pyproject = _Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
        except (OSError, KeyError, ValueError):
            return "0+unknown"


__version__ = _version()

APP_NAME = "Token Budget"
APP_ID = "TokenBudget"
