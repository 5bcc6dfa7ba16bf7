"""The Qt binding the app runs on must not corrupt the interpreter: PySide6 6.12.0
dropped a reference to None on every call returning None, and the app aborted with
"Fatal Python error: none_dealloc" after a few seconds of repainting."""

import sys

from PySide6.QtWidgets import QWidget


def test_calls_returning_none_keep_nones_refcount(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    before = sys.getrefcount(None)
    for _ in range(2000):
        widget.update()
        widget.setToolTip("x")
    assert before - sys.getrefcount(None) < 100
