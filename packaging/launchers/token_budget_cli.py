"""Frozen entry of the console command (token-budget / token-budget.exe)."""

import sys

from desktop_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
