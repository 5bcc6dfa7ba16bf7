"""Token Budget: see and steer what fills a language model's context window."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("token-budget")
except _metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.1.0"

APP_NAME = "Token Budget"
APP_ID = "TokenBudget"
