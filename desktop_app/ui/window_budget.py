"""The window's right-hand column: the model, profile and history pickers (with the
Last N and elastic options), the live budget gauge, and the tabs of panels beneath it
(context, inspector, memory, summary, profiles, usage), which are made just after the first
paint so the window appears without waiting for them.

The column scrolls rather than squeezing: its parts keep the heights they need (the
panels' tables show at least five rows) and a short window scrolls them. Its minimum
width is what its widest fixed part needs (the tab bar, every title in full, or the
inspector's figures), measured from the font, so it never changes with what the
panels show."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QScrollArea,
    QScrollBar,
    QSpinBox,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.gauge import BudgetGauge
from desktop_app.ui.theme import legible

if TYPE_CHECKING:
    from desktop_app.ui.context_panel import ContextPanel
    from desktop_app.ui.inspector import ContextInspector
    from desktop_app.ui.memory_panel import MemoryPanel
    from desktop_app.ui.profile_editor import ProfileEditor
    from desktop_app.ui.summary_panel import SummaryPanel
    from desktop_app.ui.usage_chart import UsageChart

PANEL_TITLES = ("Context", "Inspector", "Memory", "Summary", "Profiles", "Usage")
# the panels' modules, which app.run_app imports off the GUI thread before build_panels
PANEL_MODULES = tuple(f"desktop_app.ui.{name}" for name in (
    "context_panel", "inspector", "memory_panel", "summary_panel", "profile_editor",
    "usage_chart"))
FIRST_SHOWN = PANEL_TITLES.index("Inspector")  # until the window remembers another


class _ColumnLayout(QVBoxLayout):
    """The column's layout, sized by the scroll area from its parts' minimum heights:
    a short window scrolls just what does not fit. (With a height for its width, which
    its word-wrapped labels would give it, the scroll area would size it from its parts'
    preferred heights, far taller than needed, and scroll all that.)"""

    def hasHeightForWidth(self) -> bool:
        return False


class _WheelGuard(QObject):
    """Hands a wheel turned over a picker, slider or spin box without the focus to the
    column. A filter of its own, on those controls alone: a scroll area is already the
    event filter of its viewport and scroll bars, so the panel's own eventFilter, written
    in Python, was called for each of their events (every paint of the column)."""

    def __init__(self, panel: BudgetPanel) -> None:
        super().__init__(panel)
        self._panel = panel

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget)
                and not watched.hasFocus()):
            QCoreApplication.sendEvent(self._panel.viewport(), event)  # the column scrolls
            return True
        return False


class BudgetPanel(QScrollArea):
    """Pickers, gauge and panels, in a column that scrolls when the window is too short
    for them. It shows what it is given; the window wires it to the controller."""

    context_panel: ContextPanel
    inspector: ContextInspector
    memory_panel: MemoryPanel
    summary_panel: SummaryPanel
    profile_editor: ProfileEditor
    usage_chart: UsageChart

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("BudgetPanel")
        self._wheel_guard = _WheelGuard(self)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
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
        self.elastic_check = legible(QCheckBox("Lend unused shares to history"))
        self.elastic_check.setAccessibleName("Elastic budget")
        self.elastic_check.setToolTip(
            "Elastic mode: parts of the request under their share lend the slack to the "
            "history. The reply reserve is never lent.")
        self.stable_check = legible(QCheckBox("Keep the request's start stable"))
        self.stable_check.setAccessibleName("Stable prefix")
        self.stable_check.setToolTip(
            "Evict older history in blocks instead of one message per turn, so that most "
            "turns only add to the request before. A server's prompt cache (OpenAI, "
            "llama.cpp, Ollama) then reuses it: cheaper, and a long local chat answers "
            "at once. On by default for local models.")
        form.addRow("Keep", self.last_n_spin)
        form.addRow("", self.elastic_check)
        form.addRow("", self.stable_check)
        self._strategy_form = form

        self.gauge = BudgetGauge()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("Panels")
        self.tabs.setDocumentMode(True)
        self.tabs.setAccessibleName("Budget panels")
        # every title in full, never elided or behind scroll arrows: the column is as
        # wide as the tab bar (see _fit_width)
        self.tabs.setElideMode(Qt.TextElideMode.ElideNone)
        self.tabs.setUsesScrollButtons(False)
        for title in PANEL_TITLES:  # the panels themselves come with build_panels()
            self.tabs.addTab(QWidget(), title)
        self.tabs.setCurrentIndex(FIRST_SHOWN)
        self.panels_built = False

        body = QWidget()
        body.setObjectName("BudgetPanelBody")
        layout = _ColumnLayout(body)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addLayout(form)
        layout.addWidget(self.gauge)
        layout.addWidget(self.tabs, 1)
        self.setWidget(body)
        self._fit_width()
        self._guard_wheel()

    def build_panels(self) -> bool:
        """Make the panels in the tabs, in place of their placeholders; False when they
        were made before. Imported here so the window appears without waiting for them."""
        if self.panels_built:
            return False
        self.panels_built = True
        from desktop_app.ui.context_panel import ContextPanel
        from desktop_app.ui.inspector import ContextInspector
        from desktop_app.ui.memory_panel import MemoryPanel
        from desktop_app.ui.profile_editor import ProfileEditor
        from desktop_app.ui.summary_panel import SummaryPanel
        from desktop_app.ui.usage_chart import UsageChart

        self.context_panel = ContextPanel()
        self.inspector = ContextInspector()
        self.memory_panel = MemoryPanel()
        self.summary_panel = SummaryPanel()
        self.profile_editor = ProfileEditor()
        self.usage_chart = UsageChart()
        current = self.tabs.currentIndex()
        panels = (self.context_panel, self.inspector, self.memory_panel, self.summary_panel,
                  self.profile_editor, self.usage_chart)
        self.tabs.setUpdatesEnabled(False)
        for i, (panel, title) in enumerate(zip(panels, PANEL_TITLES, strict=True)):
            placeholder = self.tabs.widget(i)
            self.tabs.removeTab(i)
            self.tabs.insertTab(i, panel, title)
            placeholder.deleteLater()
        self.tabs.setCurrentIndex(current)
        self.tabs.setUpdatesEnabled(True)
        self._fit_width()
        self._guard_wheel()
        return True

    # --- size -------------------------------------------------------------------------
    def _fit_width(self) -> None:
        """The column's minimum width: what its content needs at the least (the tab bar
        with every title in full, the pickers, the gauge, the panels' fixed columns)
        and room for the scroll bar, so that showing the scroll bar squeezes nothing.
        Measured once the parts exist and again when the font or style changes; what the
        panels show never changes it."""
        body = self.widget()
        if body is None:
            return
        body.layout().activate()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        self.setMinimumWidth(body.minimumSizeHint().width() + bar)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_width()

    # --- the wheel --------------------------------------------------------------------
    def _guard_wheel(self) -> None:
        """The wheel scrolls the column: a picker, slider or spin box it passes over
        changes only once it has the focus (clicked or tabbed to), never on the way."""
        for control in self.widget().findChildren(QWidget):
            if (not isinstance(control, (QAbstractSpinBox, QAbstractSlider, QComboBox))
                    or isinstance(control, QScrollBar) or control.property("wheelGuarded")):
                continue  # a table's scroll bar scrolls its table
            control.setProperty("wheelGuarded", True)
            if control.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            control.installEventFilter(self._wheel_guard)

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
                              (self.elastic_check, bool(settings.get("elastic", False))),
                              (self.stable_check, settings.get("stable_prefix") is True)):
            widget.blockSignals(True)
            if isinstance(widget, QSpinBox):
                widget.setValue(value)
            else:
                widget.setChecked(value)
            widget.blockSignals(False)
        self._show_last_n(self.strategy_picker.currentData() == "last_n")

    def _show_last_n(self, visible: bool) -> None:
        # here, not at the top: core.history brings the summariser and the tokenizers,
        # which the first paint does not need
        from desktop_app.core.history import SLIDING

        self._strategy_form.setRowVisible(self.last_n_spin, visible)
        self._strategy_form.setRowVisible(
            self.stable_check, self.strategy_picker.currentData() in SLIDING)
