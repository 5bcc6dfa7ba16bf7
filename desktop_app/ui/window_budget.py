"""The window's right-hand column: the model, profile and history pickers (with the
Last N and elastic options), the live budget gauge, and the tabs of panels beneath it
(inspector, memory, summary, profiles, usage), which are made just after the first
paint so the window appears without waiting for them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.gauge import BudgetGauge

if TYPE_CHECKING:
    from desktop_app.ui.inspector import ContextInspector
    from desktop_app.ui.memory_panel import MemoryPanel
    from desktop_app.ui.profile_editor import ProfileEditor
    from desktop_app.ui.summary_panel import SummaryPanel
    from desktop_app.ui.usage_chart import UsageChart

PANEL_TITLES = ("Inspector", "Memory", "Summary", "Profiles", "Usage")


class BudgetPanel(QWidget):
    """Pickers, gauge and panels. It shows what it is given; the window wires it to
    the controller."""

    inspector: ContextInspector
    memory_panel: MemoryPanel
    summary_panel: SummaryPanel
    profile_editor: ProfileEditor
    usage_chart: UsageChart

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("BudgetPanel")
        self.model_picker = QComboBox()
        self.model_picker.setAccessibleName("Model")
        self.model_picker.setToolTip("The model this session talks to: its window and tokenizer")
        self.model_picker.setMaxVisibleItems(20)
        self.profile_picker = QComboBox()
        self.profile_picker.setAccessibleName("Allocation profile")
        self.profile_picker.setToolTip("How the window is shared between the parts of a request")
        self.strategy_picker = QComboBox()
        self.strategy_picker.setAccessibleName("History strategy")
        self.strategy_picker.setToolTip("Which earlier messages the next request carries")
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(6)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model_picker)
        form.addRow("Profile", self.profile_picker)
        form.addRow("History", self.strategy_picker)
        self.last_n_spin = QSpinBox()
        self.last_n_spin.setRange(1, 10_000)
        self.last_n_spin.setValue(20)
        self.last_n_spin.setSuffix(" messages")
        self.last_n_spin.setAccessibleName("Messages kept by Last N")
        self.last_n_spin.setToolTip("How many recent messages the Last N strategy keeps")
        self.elastic_check = QCheckBox("Lend unused shares to history")
        self.elastic_check.setAccessibleName("Elastic budget")
        self.elastic_check.setToolTip(
            "Elastic mode: parts of the request under their share lend the slack to the "
            "history. The reply reserve is never lent.")
        form.addRow("Keep", self.last_n_spin)
        form.addRow("", self.elastic_check)
        self._strategy_form = form

        self.gauge = BudgetGauge()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("Panels")
        self.tabs.setDocumentMode(True)
        self.tabs.setAccessibleName("Budget panels")
        for title in PANEL_TITLES:  # the panels themselves come with build_panels()
            self.tabs.addTab(QWidget(), title)
        self.panels_built = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addLayout(form)
        layout.addWidget(self.gauge)
        layout.addWidget(self.tabs, 1)

    def build_panels(self) -> bool:
        """Make the panels in the tabs, in place of their placeholders; False when they
        were made before. Imported here so the window appears without waiting for them."""
        if self.panels_built:
            return False
        self.panels_built = True
        from desktop_app.ui.inspector import ContextInspector
        from desktop_app.ui.memory_panel import MemoryPanel
        from desktop_app.ui.profile_editor import ProfileEditor
        from desktop_app.ui.summary_panel import SummaryPanel
        from desktop_app.ui.usage_chart import UsageChart

        self.inspector = ContextInspector()
        self.memory_panel = MemoryPanel()
        self.summary_panel = SummaryPanel()
        self.profile_editor = ProfileEditor()
        self.usage_chart = UsageChart()
        current = self.tabs.currentIndex()
        panels = (self.inspector, self.memory_panel, self.summary_panel, self.profile_editor,
                  self.usage_chart)
        self.tabs.setUpdatesEnabled(False)
        for i, (panel, title) in enumerate(zip(panels, PANEL_TITLES, strict=True)):
            placeholder = self.tabs.widget(i)
            self.tabs.removeTab(i)
            self.tabs.insertTab(i, panel, title)
            placeholder.deleteLater()
        self.tabs.setCurrentIndex(current)
        self.tabs.setUpdatesEnabled(True)
        return True

    # --- what the controller says ------------------------------------------------------
    def show_choices(self, models: list[tuple[str, str]], profiles: list[tuple[str, str]],
                     strategies: list[tuple[str, str]]) -> None:
        for picker, items in ((self.model_picker, models), (self.profile_picker, profiles),
                              (self.strategy_picker, strategies)):
            current = picker.currentData()
            picker.blockSignals(True)
            picker.clear()
            for value, label in items:
                picker.addItem(label, value)
            i = picker.findData(current)
            if i >= 0:
                picker.setCurrentIndex(i)
            picker.blockSignals(False)

    def show_selection(self, model: str, profile: str, strategy: str) -> None:
        for picker, value in ((self.model_picker, model), (self.profile_picker, profile),
                              (self.strategy_picker, strategy)):
            i = picker.findData(value)
            if i < 0:
                picker.addItem(value, value)
                i = picker.count() - 1
            picker.blockSignals(True)
            picker.setCurrentIndex(i)
            picker.blockSignals(False)
        self._show_last_n(strategy == "last_n")

    def show_strategy_options(self, settings: dict) -> None:
        for widget, value in ((self.last_n_spin, int(settings.get("last_n", 20))),
                              (self.elastic_check, bool(settings.get("elastic", False)))):
            widget.blockSignals(True)
            if isinstance(widget, QSpinBox):
                widget.setValue(value)
            else:
                widget.setChecked(value)
            widget.blockSignals(False)
        self._show_last_n(self.strategy_picker.currentData() == "last_n")

    def _show_last_n(self, visible: bool) -> None:
        self._strategy_form.setRowVisible(self.last_n_spin, visible)
