"""The profile editor: one slider and spin box per component, in tenths of a percent,
that can never add up past 100% (raising one stops at what the others leave, and a hint
says so), a preview of the allocation, and save or delete of named profiles."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.budget import (
    COMPONENT_LABELS,
    COMPONENTS,
    AllocationProfile,
    ProfileError,
    plan_budget,
    validate_fractions,
)
from desktop_app.core.glossary import profile_label
from desktop_app.ui.gauge import BudgetGauge, format_tokens
from desktop_app.ui.palette import blend, component_color, is_dark, ok_color, warning_color
from desktop_app.ui.theme import set_style_sheet

STEPS = 1000  # one step is a tenth of a percent
DEFAULT_WINDOW = 128_000


def _pct(steps: int) -> str:
    return f"{steps / 10:g}%"


class ProfileEditor(QWidget):
    """Edit allocation profiles. Built-in profiles can be used as a starting point and
    saved under a new name, never overwritten or deleted."""

    profileSaved = Signal(object)  # AllocationProfile
    profileDeleted = Signal(str)
    profileSelected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._profiles: dict[str, AllocationProfile] = {}
        self._window = DEFAULT_WINDOW
        self._steps = {c: 0 for c in COMPONENTS}
        self._updating = False

        self.profile_combo = QComboBox()
        self.profile_combo.setAccessibleName("Allocation profile")
        self._description = QLabel()
        self._description.setTextFormat(Qt.TextFormat.PlainText)
        self._description.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Profile name")
        self.name_edit.setPlaceholderText("Name for your profile")

        top = QGridLayout()
        top.addWidget(QLabel("Profile:"), 0, 0)
        top.addWidget(self.profile_combo, 0, 1)
        top.addWidget(self._description, 1, 1)
        top.addWidget(QLabel("Name:"), 2, 0)
        top.addWidget(self.name_edit, 2, 1)
        top.setColumnStretch(1, 1)

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        self.sliders: dict[str, QSlider] = {}
        self.spins: dict[str, QDoubleSpinBox] = {}
        self._token_labels: dict[str, QLabel] = {}
        self._chips: dict[str, QLabel] = {}
        fm = self.fontMetrics()
        for row, comp in enumerate(COMPONENTS):
            label = COMPONENT_LABELS[comp]
            chip = QLabel()
            self._chips[comp] = chip
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, STEPS)
            slider.setPageStep(50)
            slider.setSingleStep(10)
            slider.setAccessibleName(f"{label} share")
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 100.0)
            spin.setDecimals(1)
            spin.setSingleStep(1.0)
            spin.setSuffix(" %")
            spin.setAccessibleName(f"{label} percent")
            spin.setKeyboardTracking(False)
            tokens = QLabel()
            tokens.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            tokens.setMinimumWidth(fm.horizontalAdvance("000,000 tokens"))
            name = QLabel(label)
            name.setBuddy(spin)
            grid.addWidget(chip, row, 0)
            grid.addWidget(name, row, 1)
            grid.addWidget(slider, row, 2)
            grid.addWidget(spin, row, 3)
            grid.addWidget(tokens, row, 4)
            self.sliders[comp] = slider
            self.spins[comp] = spin
            self._token_labels[comp] = tokens
            slider.valueChanged.connect(lambda v, c=comp: self._set_steps(c, v))
            spin.valueChanged.connect(lambda v, c=comp: self._set_steps(c, round(v * 10)))
        grid.setColumnStretch(2, 1)

        self._total = QLabel()
        self._total.setAccessibleName("Total allocated")
        self._hint = QLabel()
        self._hint.setTextFormat(Qt.TextFormat.PlainText)
        self._hint.setWordWrap(True)
        self._hint.setAccessibleName("Allocation hint")
        self.preview = BudgetGauge(orientation=Qt.Orientation.Horizontal, compact=True)
        self.preview.setAccessibleName("Allocation preview")
        self.preview.setMinimumHeight(round(fm.height() * 1.6))
        self.preview.set_animated(False)
        self._message = QLabel()
        self._message.setTextFormat(Qt.TextFormat.PlainText)
        self._message.setWordWrap(True)
        self._message.setAccessibleName("Profile validation message")

        self.delete_button = QPushButton("Delete")
        self.delete_button.setAccessibleName("Delete profile")
        self.save_button = QPushButton("Save as profile")
        self.save_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addSpacing(fm.height() // 2)
        layout.addLayout(grid)
        layout.addWidget(self._total)
        layout.addWidget(self.preview)
        layout.addWidget(self._hint)
        layout.addWidget(self._message)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.setAccessibleName("Profile editor")

        self.profile_combo.activated.connect(self._combo_activated)
        self.name_edit.textChanged.connect(self._validate)
        self.save_button.clicked.connect(self.save)
        self.delete_button.clicked.connect(self._delete)
        self._paint_chips()
        self._refresh()

    # --- public API --------------------------------------------------------------------

    def set_profiles(self, profiles: Sequence[AllocationProfile], current: str) -> None:
        """The profiles to choose from (built-ins and the user's) and the one in use."""
        self._profiles = {p.name: p for p in profiles}
        self.profile_combo.blockSignals(True)
        self.profile_combo.clear()
        for p in sorted(profiles, key=lambda p: (not p.builtin, p.name.lower())):
            self.profile_combo.addItem(f"{profile_label(p.name)} (built in)" if p.builtin
                                       else p.name, p.name)
        self.profile_combo.blockSignals(False)
        if current in self._profiles:
            self.load_profile(current)
        elif profiles:
            self.load_profile(profiles[0].name)

    def set_window(self, tokens: int) -> None:
        """The model window the token figures and the preview are shown for."""
        self._window = max(1, int(tokens))
        self._refresh()

    def load_profile(self, name: str) -> None:
        profile = self._profiles[name]
        self.profile_combo.setCurrentIndex(self.profile_combo.findData(name))
        self._description.setText(profile.description or "")
        self._description.setVisible(bool(profile.description))
        self._updating = True
        for comp in COMPONENTS:
            self._steps[comp] = round(profile.fractions.get(comp, 0.0) * STEPS)
            self.sliders[comp].setValue(self._steps[comp])
            self.spins[comp].setValue(self._steps[comp] / 10)
        self._updating = False
        self.name_edit.setText("" if profile.builtin else profile.name)
        self._hint.clear()
        self._refresh()

    def fractions(self) -> dict[str, float]:
        return {c: self._steps[c] / STEPS for c in COMPONENTS}

    def total_percent(self) -> float:
        return sum(self._steps.values()) / 10

    def current_name(self) -> str:
        return str(self.profile_combo.currentData() or "")

    def message(self) -> str:
        return self._message.text()

    def hint(self) -> str:
        return self._hint.text()

    def save(self) -> None:
        profile = self._validate()
        if profile is None:
            return
        # list it at once; the controller's set_profiles later brings the stored list
        if profile.name not in self._profiles:
            self.profile_combo.addItem(profile.name, profile.name)
        self._profiles[profile.name] = profile
        self.profile_combo.setCurrentIndex(self.profile_combo.findData(profile.name))
        self.profileSaved.emit(profile)
        self._refresh()
        self._show_message(f"Saved “{profile.name}”.", ok=True)

    # --- editing -----------------------------------------------------------------------

    def _set_steps(self, component: str, value: int) -> None:
        if self._updating:
            return
        others = sum(v for c, v in self._steps.items() if c != component)
        allowed = STEPS - others
        if value > allowed:
            label = COMPONENT_LABELS[component]
            self._hint.setText(
                f"{label} is held at {_pct(allowed)}: the other components already take "
                f"{_pct(others)}. Lower one of them to give it more.")
            value = allowed
        else:
            self._hint.clear()
        self._steps[component] = value
        self._updating = True  # mirror the value into the other control without echo
        self.sliders[component].setValue(value)
        self.spins[component].setValue(value / 10)
        self._updating = False
        self._refresh()

    def _combo_activated(self, index: int) -> None:
        name = self.profile_combo.itemData(index)
        if name:
            self.load_profile(name)
            self.profileSelected.emit(name)

    def _delete(self) -> None:
        name = self.current_name()
        profile = self._profiles.get(name)
        if profile is None or profile.builtin:
            return
        self.profileDeleted.emit(name)
        del self._profiles[name]
        self.profile_combo.removeItem(self.profile_combo.findData(name))
        if self.profile_combo.count():
            self._combo_activated(self.profile_combo.currentIndex())

    # --- state -------------------------------------------------------------------------

    def _refresh(self) -> None:
        total = sum(self._steps.values())
        free = STEPS - total
        self._total.setText(f"Allocated {_pct(total)} · free {_pct(free)}")
        for comp in COMPONENTS:
            self._token_labels[comp].setText(
                f"{format_tokens(int(self._window * self._steps[comp] / STEPS))} tokens")
        profile = self._validate()
        preview_profile = profile or self._permissive_profile()
        if preview_profile is not None:
            self.preview.set_allocation(plan_budget(self._window, preview_profile))
        current = self._profiles.get(self.current_name())
        self.delete_button.setEnabled(current is not None and not current.builtin)
        self.delete_button.setToolTip(
            "Built-in profiles cannot be deleted" if current is not None and current.builtin
            else "Delete this profile")

    def _permissive_profile(self) -> AllocationProfile | None:
        """A stand-in for the preview while the profile is not yet valid (no name, or no
        reply reserve): the same shares under a placeholder name."""
        fractions = self.fractions()
        if fractions["reply_reserve"] <= 0:
            fractions["reply_reserve"] = 0.0001
        try:
            return AllocationProfile("preview", fractions)
        except ProfileError:
            return None

    def _validate(self) -> AllocationProfile | None:
        """The profile the controls describe, or None with the reason shown inline."""
        name = self.name_edit.text().strip()
        fractions = self.fractions()
        try:
            validate_fractions(fractions, name or "profile")
        except ProfileError as exc:
            reason = str(exc).split(": ", 1)[-1]
            self._show_message(reason[:1].upper() + reason[1:] + ".", ok=False)
            self.save_button.setEnabled(False)
            return None
        if not name:
            self._show_message("Give the profile a name to save it.", ok=None)
            self.save_button.setEnabled(False)
            return None
        existing = self._profiles.get(name)
        if existing is not None and existing.builtin:
            self._show_message(f"“{name}” is a built-in profile; choose another name.", ok=False)
            self.save_button.setEnabled(False)
            return None
        if existing is not None:
            self._show_message(f"Saving replaces your profile “{name}”.", ok=None)
        else:
            self._show_message("", ok=None)
        self.save_button.setEnabled(True)
        return AllocationProfile(name, fractions, builtin=False,
                                 description=existing.description if existing else "")

    def _show_message(self, text: str, ok: bool | None) -> None:
        dark = is_dark(self)
        if ok is None:
            color = blend(self.palette().color(self.foregroundRole()),
                          self.palette().color(self.backgroundRole()), 0.65)
        else:
            color = ok_color(dark) if ok else warning_color(dark)
        set_style_sheet(self._message, f"color: {QColor(color).name()};")
        self._message.setText(text)

    def _paint_chips(self) -> None:
        size = max(8, round(self.fontMetrics().ascent() * 0.85))
        dark = is_dark(self)
        for comp, chip in self._chips.items():
            pix = QPixmap(size, size)
            pix.fill(component_color(comp, dark))
            chip.setPixmap(pix)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_chips()
        super().changeEvent(event)
