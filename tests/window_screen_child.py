"""Child process for tests/test_ui_window_layout.py: the real window started as the app
starts it, on a virtual screen of the size the parent chooses (Qt's offscreen platform
reads the screen from a file, once per process), then closed as the user closes it (so
it remembers its layout). Prints one JSON line: the screen's available area, the
window's frame, where Send is and the splitter's sizes.

    QT_QPA_PLATFORM=offscreen:configfile=SCREEN.json python tests/window_screen_child.py DATA_DIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from PySide6.QtCore import QEventLoop, QRect, QTimer

    from desktop_app.ui.app import build_window, create_application

    app = create_application()
    window = build_window(sys.argv[1], "light")
    window.show()
    window.controller.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()
        if window.controller.db is not None and window.controller.idle and window.panels_built:
            break
    app.processEvents()

    def rect(r: QRect) -> list[int]:
        return [r.x(), r.y(), r.width(), r.height()]

    window.open_prompt_lab()
    app.processEvents()
    lab = window._prompt_lab.frameGeometry()
    window._prompt_lab.close()
    send = window.composer.send_button
    send_rect = QRect(send.mapToGlobal(send.rect().topLeft()), send.size())
    screen = window.screen()
    print(json.dumps({
        "available": rect(screen.availableGeometry()),
        "frame": rect(window.frameGeometry()),
        "send": rect(send_rect),
        "send_visible": send.isVisible(),
        "sizes": window.splitter.sizes(),
        "right_min": window.right.minimumWidth(),
        "lab": rect(lab),
    }), flush=True)
    window.close()


if __name__ == "__main__":
    main()
