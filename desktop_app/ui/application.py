"""The application object: a QApplication that hands on the files the system asks it to
open (macOS sends a FileOpen event to the application when an export is double-clicked
or dropped on the Dock icon)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QApplication


class TokenBudgetApplication(QApplication):
    """Emits `fileOpenRequested(path)` for each FileOpen event. Overriding event() sees
    only the events sent to the application itself; an event filter installed on the
    application (the usual way) sees every event of every widget, each a call into
    Python with the object and the event wrapped, about 28 for a keystroke."""

    fileOpenRequested = Signal(str)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen:
            path = event.file()  # type: ignore[attr-defined]
            if path:
                self.fileOpenRequested.emit(path)
            return True
        return super().event(event)
