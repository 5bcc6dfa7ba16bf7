"""Prompt Lab: offline drafting. Variants of a prompt side by side, each counted for
several models (exact or estimated), a per-sentence token heatmap, the difference
between two variants, the optimizer's compression suggestions, chunking of a long
document into a budget, and the cost of a thousand calls. No network, except the
Experiment tab's runs through a configured model (through the app's controller).

This module holds the lab window: the model menu, the variants and the tabs. A variant
is in `lab_variant` (its heatmap in `lab_heatmap`, its count table in `lab_costs`), the
tabs in `lab_compare`, `lab_compress`, `lab_chunk`, `lab_experiment` and `lab_document`
(a progressive run of a document through a configured model). Long work
(counting a long text, suggestions, chunking) runs on the lab's Operations, off the GUI
thread; an experiment runs on the app controller's."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.controller.operations import Operations
from desktop_app.core.catalog import Catalog, ModelInfo, default_catalog
from desktop_app.core.glossary import provider_label
from desktop_app.ui.lab_chunk import ChunkPage
from desktop_app.ui.lab_compare import ComparePage, signed, signed_percent
from desktop_app.ui.lab_compress import CompressPage
from desktop_app.ui.lab_document import DocumentPage
from desktop_app.ui.lab_experiment import ExperimentPage
from desktop_app.ui.lab_variant import VariantEditor
from desktop_app.ui.palette import blend
from desktop_app.ui.theme import legible

if TYPE_CHECKING:
    from PySide6.QtGui import QAction, QColor

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "claude-3.5-sonnet")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def optimizer() -> Any | None:
    """desktop_app.core.optimize if it is installed with this build, else None."""
    try:
        return importlib.import_module("desktop_app.core.optimize")
    except ImportError:
        return None


class PromptLab(QWidget):
    """Variants side by side over three tools: compare, compress, chunk."""

    def __init__(self, parent: QWidget | None = None, catalog: Catalog | None = None,
                 controller: Any | None = None) -> None:
        super().__init__(parent)
        self.controller = controller  # the app's; the Experiment tab runs through it
        self.catalog = catalog or default_catalog()
        self.variants: list[VariantEditor] = []
        self.operations = Operations(self)
        optimize = optimizer()

        # toolbar
        self.models_button = QToolButton()
        self.models_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.models_button.setAccessibleName("Models to count for")
        self.models_menu = legible(QMenu(self))
        self._model_actions: dict[str, QAction] = {}
        providers: dict[str, QMenu] = {}
        for model in self.catalog.models:
            menu = providers.get(model.provider)
            if menu is None:
                menu = providers[model.provider] = legible(self.models_menu.addMenu(
                    provider_label(model.provider)))
            action = menu.addAction(model.name)
            action.setCheckable(True)
            action.setChecked(model.name in DEFAULT_MODELS)
            action.toggled.connect(self._models_changed)
            self._model_actions[model.name] = action
        self.models_button.setMenu(self.models_menu)
        self.add_button = QPushButton("Add variant")
        self.add_button.setAccessibleName("Add variant")
        self.heatmap_check = legible(QCheckBox("Heatmap"))
        self.heatmap_check.setChecked(True)
        self.heatmap_check.setToolTip("Colour each sentence by its tokens per word "
                                      "(first model's encoding); hover a sentence for figures")
        offline = QLabel("Counts, heatmap and compression work offline; experiments use "
                         "a configured model.")
        offline.setStyleSheet(f"color: {self.muted_color().name()};")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Models:"))
        bar.addWidget(self.models_button)
        bar.addWidget(self.add_button)
        bar.addWidget(self.heatmap_check)
        bar.addStretch(1)
        bar.addWidget(offline)

        self.variant_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.variant_splitter.setChildrenCollapsible(False)

        self.tabs = QTabWidget()
        self.compare_page = ComparePage(self)
        self.compress_page = CompressPage(self, optimize)
        self.chunk_page = ChunkPage(self, optimize)
        self.tabs.addTab(self.compare_page, "Compare")
        self.tabs.addTab(self.compress_page, "Compress")
        self.tabs.addTab(self.chunk_page, "Chunk a document")
        self.experiment_page = ExperimentPage(self, controller)
        self.tabs.addTab(self.experiment_page, "Experiment")
        self.document_page = DocumentPage(self, controller)
        self.tabs.addTab(self.document_page, "Document")

        main = QSplitter(Qt.Orientation.Vertical)
        main.setChildrenCollapsible(False)
        main.addWidget(self.variant_splitter)
        main.addWidget(self.tabs)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(main, 1)
        self.setAccessibleName("Prompt Lab")
        # its own window: Esc and Ctrl+W close it, as they close a dialog or a tab
        self.close_shortcuts = [QShortcut(QKeySequence(key), self, self.close)
                                for key in ("Esc", "Ctrl+W")]

        self.add_button.clicked.connect(lambda: self.add_variant())
        self.heatmap_check.toggled.connect(self._heatmap_toggled)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.add_variant()
        self.add_variant()
        self._models_changed()

    # --- models ------------------------------------------------------------------------

    def set_models(self, names: Sequence[str]) -> None:
        """Check exactly these models (unknown names are ignored)."""
        wanted = set(names)
        for name, action in self._model_actions.items():
            action.blockSignals(True)
            action.setChecked(name in wanted)
            action.blockSignals(False)
        self._models_changed()

    def checked_models(self) -> list[ModelInfo]:
        """The chosen models, in catalog order; the first sets the heatmap's encoding."""
        return [m for m in self.catalog.models if self._model_actions[m.name].isChecked()]

    def primary_encoding(self) -> str:
        models = self.checked_models()
        return models[0].encoding if models else "o200k_base"

    def _models_changed(self) -> None:
        models = self.checked_models()
        names = [m.name for m in models]
        if not names:
            self.models_button.setText("none chosen")
        elif len(names) == 1:
            self.models_button.setText(names[0])
        else:
            self.models_button.setText(f"{len(names)} models")
        self.models_button.setToolTip("Counting for: " + (", ".join(names) or "no model")
                                      + ". The heatmap uses the first one's encoding.")
        for variant in self.variants:
            variant.set_models(models)
        self._refresh_deltas()
        self.compare_page.schedule()

    # --- variants ----------------------------------------------------------------------

    def add_variant(self, text: str = "") -> VariantEditor:
        variant = VariantEditor(f"Variant {LETTERS[len(self.variants) % 26]}", self.operations)
        variant.set_models(self.checked_models())
        variant.set_heatmap(self.heatmap_check.isChecked())
        variant.countsChanged.connect(self._variant_counted)
        variant.removeRequested.connect(lambda v=variant: self.remove_variant(v))
        self.variants.append(variant)
        self.variant_splitter.addWidget(variant)
        if text:
            variant.set_text(text)
        self._variants_changed()
        return variant

    def remove_variant(self, variant: VariantEditor) -> None:
        if len(self.variants) <= 1:
            return
        self.variants.remove(variant)
        variant.cancel_count()  # a count under way is not delivered to a deleted editor
        variant.setParent(None)
        variant.deleteLater()
        self._variants_changed()

    def _variants_changed(self) -> None:
        for i, v in enumerate(self.variants):
            v.set_title(f"Variant {LETTERS[i % 26]}")
            v.remove_button.setEnabled(len(self.variants) > 1)
        names = [v.title.text() for v in self.variants]
        self.compare_page.set_variant_names(names)
        self.compress_page.set_variant_names(names)
        self._refresh_deltas()
        self.compare_page.schedule()
        self.compress_page.schedule()
        self.experiment_page.refresh()

    def _variant_counted(self) -> None:
        self._refresh_deltas()
        self.compare_page.schedule()
        sender = self.sender()
        if sender is self.compress_page.target():
            self.compress_page.schedule()

    def _tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.compress_page:
            self.compress_page.opened()
        # a progressive document does not use the variants: its tab takes their room
        self.variant_splitter.setVisible(self.tabs.currentWidget() is not self.document_page)

    def _heatmap_toggled(self, on: bool) -> None:
        for v in self.variants:
            v.set_heatmap(on)

    def _refresh_deltas(self) -> None:
        if not self.variants:
            return
        enc = self.primary_encoding()
        base = self.variants[0]
        base_tokens = base.tokens(enc)
        base.delta.setText("Baseline for the differences")
        for v in self.variants[1:]:
            tokens = v.tokens(enc)
            if tokens is None or base_tokens is None:
                v.delta.setText("counting…")
                continue
            diff = tokens - base_tokens
            pct = f" ({signed_percent(diff / base_tokens)})" if base_tokens else ""
            v.delta.setText(f"{signed(diff)} tokens vs {base.title.text()}{pct}")

    # --- theme ---------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.compare_page.schedule()
        super().changeEvent(event)

    def muted_color(self) -> QColor:
        return blend(self.palette().color(self.foregroundRole()),
                     self.palette().color(self.backgroundRole()), 0.6)
