"""CI: start the real window once on an X server (Xvfb, through Qt's xcb platform, not
offscreen), as a person starts it, and check that it painted: the screen must show more
than one flat colour. Exit 1, with what the app said, when it does not start or paint.

Run it with DISPLAY set (.ci/run uses xvfb-run). The app gets a scratch data folder and
HOME in a temporary folder, and an in-memory keychain; the screenshot is kept there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIMEOUT_S = 120
MIN_COLOURS = 8  # a painted window has text, borders and fills; an empty screen has one


def colours(image) -> int:
    """Distinct colours on a 48 x 48 grid over the image."""
    w, h = image.width(), image.height()
    seen = {image.pixel(x * w // 48, y * h // 48) for x in range(48) for y in range(48)}
    return len(seen)


def main() -> int:
    if not os.environ.get("DISPLAY"):
        print("window check: no DISPLAY (run it under xvfb-run)", file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="token-budget-window-"))
    env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
    env.update(QT_QPA_PLATFORM="xcb", HOME=str(scratch),
               TOKEN_BUDGET_DATA_DIR=str(scratch / "data"),
               XDG_CONFIG_HOME=str(scratch / "config"), XDG_DATA_HOME=str(scratch / "share"),
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    log = scratch / "app.log"
    with log.open("wb") as out:
        app = subprocess.Popen([sys.executable, "-m", "desktop_app"], env=env, stdout=out,
                               stderr=subprocess.STDOUT, cwd=scratch)
    try:
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        from PySide6.QtGui import QGuiApplication

        qt = QGuiApplication([sys.argv[0]])
        deadline = time.monotonic() + TIMEOUT_S
        found = 0
        while time.monotonic() < deadline:
            if app.poll() is not None:
                print(f"window check: the app exited with status {app.returncode} before it "
                      f"painted:\n{log.read_text(errors='replace')}", file=sys.stderr)
                return 1
            image = qt.primaryScreen().grabWindow(0).toImage()
            found = colours(image)
            if found >= MIN_COLOURS:
                shot = scratch / "window.png"
                image.save(str(shot))
                time.sleep(1)  # still running a moment later: no crash right after painting
                if app.poll() is None:
                    print(f"window check: the window painted on {os.environ['DISPLAY']} "
                          f"({found} colours on the screen; {shot})")
                    return 0
            time.sleep(0.5)
        print(f"window check: nothing painted in {TIMEOUT_S} s (the screen shows {found} "
              f"colour(s)); the app said:\n{log.read_text(errors='replace')}", file=sys.stderr)
        return 1
    finally:
        if app.poll() is None:
            app.terminate()
            try:
                app.wait(15)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        shutil.rmtree(scratch / "data", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
