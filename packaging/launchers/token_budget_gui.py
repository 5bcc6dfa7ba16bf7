"""Frozen entry of the windowed app (TokenBudget / TokenBudget.exe / Token Budget.app)."""

import sys

from desktop_app.cli import main_gui

if __name__ == "__main__":
    sys.exit(main_gui())
