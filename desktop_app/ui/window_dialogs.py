"""The window's small dialogs: editing a stored message, the keyboard shortcuts,
About Token Budget, and whether to import again what was imported before."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.text import reveal_controls
from desktop_app.ui.theme import plain_buttons

if TYPE_CHECKING:
    from desktop_app.core.records import Message

SHORTCUTS = (
    ("Ctrl+Enter", "Send the message"),
    ("Esc", "Stop the reply"),
    ("Ctrl+N", "New session"),
    ("F2", "Rename the session"),
    ("Ctrl+F", "Search all messages"),
    ("Ctrl+C", "Copy the selected message"),
    ("Ctrl+Shift+P", "Pin or unpin the selected message"),
    ("Ctrl+L", "Prompt Lab"),
    ("Esc / Ctrl+W", "Close the Prompt Lab (in the Lab)"),
    ("Ctrl+,", "Settings"),
    ("Ctrl+1 / Ctrl+2", "Show or hide the sessions / budget panels"),
    ("Ctrl+Q", "Quit"),
)


class EditMessageDialog(QDialog):
    def __init__(self, m: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit message")
        self.editor = QPlainTextEdit(m.content)
        self.editor.setAccessibleName("Message text")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        plain_buttons(buttons)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("The edited text is stored and counted again."))
        layout.addWidget(self.editor, 1)
        layout.addWidget(buttons)
        self.resize(560, 360)

    def text(self) -> str:
        return self.editor.toPlainText()


def shortcuts_html() -> str:
    rows = "".join(f"<tr><td style='padding-right:18px'><b>{k}</b></td><td>{v}</td></tr>"
                   for k, v in SHORTCUTS)
    return f"<table>{rows}</table>"


def about_html(data_dir: Any) -> str:
    from desktop_app import __version__  # importlib.metadata: looked up when asked for

    return (
        f"<p><b>Token Budget</b> {__version__}</p>"
        "<p>See and steer what fills a language model's context window: exact token "
        "counts, allocation profiles, history strategies and a live budget gauge.</p>"
        f"<p>Data folder: {html.escape(str(data_dir)) if data_dir else '(not open)'}</p>"
        "<p>Counts Llama models with Meta's own tokenizer: Built with Llama. The shipped "
        "tokenizers and chat templates, and their licences, are listed in "
        "resources/tokenizers/README.md and resources/chat_templates/README.md.</p>"
    )


def ask_import_again(window: Any, path: Path, what: str) -> QMessageBox:
    """The file held conversations imported before, which were skipped (`what` says
    which): offer to import them once more, as new sessions. Skip is the default."""
    box = QMessageBox(window)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Already imported")
    box.setTextFormat(Qt.TextFormat.PlainText)  # `what` may name sessions in the file
    what = reveal_controls(what)  # it quotes titles from the file
    box.setText(f"{what[:1].upper()}{what[1:]}.")
    box.setInformativeText("Import them again, as new sessions beside the ones you have?")
    again = box.addButton("Import again", QMessageBox.ButtonRole.AcceptRole)
    skip = box.addButton("Skip", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(skip)
    box.setEscapeButton(skip)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    again.clicked.connect(lambda: window.controller.sessions.import_file(path, again=True))
    window.import_again_box = box
    box.open()
    return box


def show_message(parent: QWidget, title: str, html: str) -> QMessageBox:
    """A window-modal message box with the app's icon, deleted when closed."""
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    box.setIconPixmap(parent.windowIcon().pixmap(48, 48))
    box.setText(html)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    plain_buttons(box)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
