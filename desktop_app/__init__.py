"""Token Budget: see and steer what fills a language model's context window."""

from typing import Any


def _version() -> str:
    """The version written once, in pyproject.toml: from the installed metadata, or from
    the file itself in a checkout that was never installed."""
    from importlib import metadata

    try:
        return metadata.version("token-budget")
    except metadata.PackageNotFoundError:
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
        except (OSError, KeyError, ValueError):
            return "0+unknown"


def __getattr__(name: str) -> Any:
    """`__version__` is looked up when first asked for (importlib.metadata costs more
    than the rest of a command's start)."""
    if name == "__version__":
        value = globals()["__version__"] = _version()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

APP_NAME = "Token Budget"
APP_ID = "TokenBudget"
