"""Settings: model providers (base URL, API key kept in the system keychain, a
connection test), your own models (window, output limit, prices, tokenizer; kept in
models.json in the data folder), the defaults for new sessions, the data folder and the
theme."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.glossary import STRATEGY_LABELS, profile_label
from desktop_app.core.history import STRATEGIES
from desktop_app.core.providers import ProviderConfig, ProviderError
from desktop_app.core.user_models import (
    DEFAULT_MAX_OUTPUT,
    GGUF_PREFIX,
    MAX_WINDOW,
    MIN_WINDOW,
    SERVER,
    UserModel,
    UserModelError,
    tokenizer_label,
    user_models_path,
)
from desktop_app.ui.palette import is_dark, ok_color, warning_color
from desktop_app.ui.theme import THEME_LABELS, THEMES, mute, plain_buttons, set_style_sheet

CUSTOM_URL_EXAMPLE = "http://localhost:8080/v1"
KEY_SOURCES = {
    "keychain": "A key is saved in the system keychain. Type a new one to replace it.",
    "session": "A key is kept in memory for this session only (no keychain available).",
    "environment": "Using the key in the OPENAI_API_KEY environment variable.",
}


class SettingsDialog(QDialog):
    def __init__(self, controller: Any, window: Any = None) -> None:
        super().__init__(window)
        self.controller = controller
        self.window_ = window
        self._saving = False
        self._providers: dict[str, ProviderConfig] = {}
        self.setWindowTitle("Settings")
        self.setMinimumSize(680, 460)
        self._presets = {name: (label, url, needs_key)
                         for name, label, url, needs_key in controller.setup.provider_presets()}

        tabs = QTabWidget()
        tabs.addTab(self._providers_tab(), "Providers")
        tabs.addTab(self._models_tab(), "Models")
        tabs.addTab(self._general_tab(), "General")
        self.tabs = tabs
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        plain_buttons(buttons)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addWidget(buttons)

        controller.providersChanged.connect(self._fill_providers)
        controller.connectionTested.connect(self._on_tested)
        controller.modelsFound.connect(self._on_models_found)
        controller.errorRaised.connect(self._on_error)
        controller.userModelsChanged.connect(self._fill_user_models)
        self._fill_providers(controller.providers)
        from desktop_app.core.user_models import load_user_models

        self._fill_user_models(*load_user_models(controller.data_dir))  # a small file
        if not controller.providers:
            self._new_provider()

    # --- providers ------------------------------------------------------------------
    def _providers_tab(self) -> QWidget:
        page = QWidget()
        self.provider_list = QListWidget()
        self.provider_list.setAccessibleName("Providers")
        self.provider_list.setMaximumWidth(200)
        self.provider_list.currentItemChanged.connect(self._show_provider)
        add = QPushButton("Add provider")
        add.setAccessibleName("Add provider")
        add.clicked.connect(self._new_provider)
        # with none saved, the form beside an empty list is a new provider's, not one
        # that exists: said under the list
        self.no_providers = mute(QLabel("None saved yet: fill in the form, then Save "
                                        "provider."))
        self.no_providers.setWordWrap(True)
        self.no_providers.setMaximumWidth(200)
        left = QVBoxLayout()
        left.addWidget(self.provider_list, 1)
        left.addWidget(self.no_providers)
        left.addWidget(add)

        self.preset = QComboBox()
        self.preset.setAccessibleName("Kind of server")
        for name, (label, _url, _needs) in self._presets.items():
            self.preset.addItem(label, name)
        self.preset.activated.connect(self._preset_chosen)
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Provider name")
        self.url_edit = QLineEdit()
        self.url_edit.setAccessibleName("Base URL")
        self.url_edit.setPlaceholderText("http://localhost:11434/v1")
        self.key_edit = QLineEdit()
        self.key_edit.setAccessibleName("API key")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("Kept in the system keychain, never in the database")
        self.key_note = QLabel()
        self.key_note.setTextFormat(Qt.TextFormat.PlainText)
        mute(self.key_note)
        self.key_note.setWordWrap(True)
        self.models_edit = QLineEdit()
        self.models_edit.setAccessibleName("Models")
        self.models_edit.setPlaceholderText("gpt-4o-mini, gpt-4o (shown in the model picker)")
        form = QFormLayout()
        form.addRow("Kind", self.preset)
        form.addRow("Name", self.name_edit)
        form.addRow("Base URL", self.url_edit)
        form.addRow("API key", self.key_edit)
        form.addRow("", self.key_note)
        form.addRow("Models", self.models_edit)

        self.test_button = QPushButton("Test connection")
        self.test_button.setAccessibleName("Test connection")
        self.test_button.clicked.connect(self._test)
        self.save_button = QPushButton("Save provider")
        self.save_button.setAccessibleName("Save provider")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._save)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setAccessibleName("Remove provider")
        self.remove_button.clicked.connect(self._remove)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addStretch(1)
        row.addWidget(self.remove_button)
        row.addWidget(self.save_button)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Provider status")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(row)
        right.addWidget(self.status)
        right.addStretch(1)
        layout = QHBoxLayout(page)
        layout.addLayout(left)
        layout.addLayout(right, 1)
        return page

    def _fill_providers(self, providers: list[ProviderConfig]) -> None:
        current = self.name_edit.text().strip()
        self.provider_list.blockSignals(True)
        self.provider_list.clear()
        self._providers = {p.name: p for p in providers}
        self.no_providers.setHidden(bool(providers))
        for p in providers:
            item = QListWidgetItem(p.name)
            item.setData(Qt.ItemDataRole.UserRole, p.name)
            self.provider_list.addItem(item)
            if p.name == current:
                self.provider_list.setCurrentItem(item)
        self.provider_list.blockSignals(False)
        if current in self._providers:
            self._show_provider(self.provider_list.currentItem(), None)
        if self._saving:
            self._saving = False
            self._set_status("Saved.", ok=True)

    def _show_provider(self, item: QListWidgetItem | None, _previous: Any) -> None:
        if item is None:
            return
        p = self._providers.get(item.data(Qt.ItemDataRole.UserRole))
        if p is None:
            return
        self.preset.setCurrentIndex(max(0, self.preset.findData(p.preset)))
        self.name_edit.setText(p.name)
        self.url_edit.setText(p.base_url)
        self.models_edit.setText(", ".join(p.models))
        self.key_edit.clear()
        self._show_key_source(p.name, p.preset)
        self.remove_button.setEnabled(True)
        self.status.clear()

    def _show_key_source(self, name: str, preset: str) -> None:
        source = self.controller.setup.key_source(name, preset) if name else None
        needs = self._presets.get(preset, ("", "", False))[2]
        if source:
            text = KEY_SOURCES.get(source, "")
        elif needs:
            text = "This server needs an API key."
        else:
            text = "Local servers usually need no key."
        self.key_note.setText(text)

    def _new_provider(self) -> None:
        self.provider_list.clearSelection()
        self.provider_list.setCurrentItem(None)
        preset = "openai" if "openai" in self._presets else self.preset.itemData(0)
        self.preset.setCurrentIndex(max(0, self.preset.findData(preset)))
        self._preset_chosen(self.preset.currentIndex(), rename=True)
        self.models_edit.clear()
        self.key_edit.clear()
        self.remove_button.setEnabled(False)
        self.status.clear()

    def _preset_chosen(self, index: int, rename: bool = True) -> None:
        name = self.preset.itemData(index)
        _label, url, _needs = self._presets[name]
        if rename or not self.name_edit.text().strip():
            taken = set(self._providers)
            candidate, n = name, 2
            while candidate in taken:
                candidate, n = f"{name}-{n}", n + 1
            self.name_edit.setText(candidate)
        # each kind its own address: another kind's preset gives way (a custom server
        # starts empty, with an example), an address the user typed stays
        typed = self.url_edit.text().strip().rstrip("/")
        if not typed or typed in {u for _l, u, _n in self._presets.values() if u}:
            self.url_edit.setText(url)
        self.url_edit.setPlaceholderText(url or CUSTOM_URL_EXAMPLE)
        self._show_key_source(self.name_edit.text().strip(), name)

    def _config(self) -> ProviderConfig | None:
        """The provider as entered, checked as everywhere else (core.providers); None,
        with the reason in the status line, when the check refuses it."""
        models = [m.strip() for m in self.models_edit.text().split(",") if m.strip()]
        existing = self._providers.get(self.name_edit.text().strip())
        try:
            return ProviderConfig(
                self.name_edit.text(),
                base_url=self.url_edit.text(),
                preset=str(self.preset.currentData()),
                models=models,
                context_windows=dict(existing.context_windows) if existing else {},
            )
        except ProviderError as exc:
            self._set_status(str(exc), warn=True)
            return None

    def _save(self) -> None:
        config = self._config()
        if config is None:
            return
        self._saving = True
        self._set_status("Saving…")
        self.controller.setup.save_provider(config, self.key_edit.text().strip() or None)
        self.key_edit.clear()

    def _remove(self) -> None:
        name = self.name_edit.text().strip()
        if name in self._providers:
            self.controller.setup.delete_provider(name)
            self._new_provider()

    def _test(self) -> None:
        config = self._config()
        if config is None:
            return
        self._set_status("Testing the connection…")
        self.test_button.setEnabled(False)
        self.controller.setup.test_connection(config, self.key_edit.text().strip() or None)

    def _on_models_found(self, provider: str, models: list[str]) -> None:
        """What Test connection found joins the provider's list (and, once saved, the
        model picker)."""
        if provider != self.name_edit.text().strip():
            return
        listed = [m.strip() for m in self.models_edit.text().split(",") if m.strip()]
        listed += [m for m in models if m not in listed]
        self.models_edit.setText(", ".join(listed))

    def _on_tested(self, ok: bool, text: str) -> None:
        self.test_button.setEnabled(True)
        self._set_status(text, ok=ok, warn=not ok)

    def _on_error(self, text: str) -> None:
        self._saving = False
        if self.isVisible():
            self._set_status(text, warn=True)
            if self._saving_model:
                self._saving_model = False
                self._set_status(text, warn=True, label=self.model_status)

    def _set_status(self, text: str, ok: bool = False, warn: bool = False,
                    label: QLabel | None = None) -> None:
        label = label or self.status
        dark = is_dark(self)
        color = ok_color(dark) if ok else warning_color(dark) if warn else None
        set_style_sheet(label, f"color: {color.name()};" if color else "")
        label.setText(text)

    # --- your own models ------------------------------------------------------------
    def _models_tab(self) -> QWidget:
        from desktop_app.core.tokenizers import SPECS

        page = QWidget()
        self._user_models: dict[str, UserModel] = {}
        self._editing: str | None = None  # the name of the model being edited
        self._saving_model = False
        self.user_model_list = QListWidget()
        self.user_model_list.setAccessibleName("Your models")
        self.user_model_list.setMaximumWidth(220)
        self.user_model_list.currentItemChanged.connect(self._show_user_model)
        add = QPushButton("Add model")
        add.setAccessibleName("Add model")
        add.clicked.connect(self._new_user_model)
        left = QVBoxLayout()
        left.addWidget(self.user_model_list, 1)
        left.addWidget(add)

        self.model_name = QLineEdit()
        self.model_name.setAccessibleName("Model name")
        self.model_name.setPlaceholderText("as the server names it, e.g. my-finetune:7b")
        self.model_window = QSpinBox()
        self.model_window.setAccessibleName("Context window")
        self.model_window.setRange(MIN_WINDOW, MAX_WINDOW)
        self.model_window.setGroupSeparatorShown(True)
        self.model_window.setSuffix(" tokens")
        self.model_output = QSpinBox()
        self.model_output.setAccessibleName("Output limit")
        self.model_output.setRange(1, 100_000_000)
        self.model_output.setGroupSeparatorShown(True)
        self.model_output.setSuffix(" tokens")
        self.model_provider = QLineEdit()
        self.model_provider.setAccessibleName("Provider of the model")
        self.model_provider.setPlaceholderText("local, openai, anthropic, …")
        self.price_in, self.price_out = self._price_box("Input price"), self._price_box(
            "Output price")
        self.price_cache = self._price_box("Cache-read price")
        self.price_cache.setMinimum(-1)
        self.price_cache.setSpecialValueText("not known")
        self.model_tokenizer = QComboBox()
        self.model_tokenizer.setAccessibleName("Tokenizer")
        self.model_tokenizer.addItem("Guess from the name", "")
        for name, spec in SPECS.items():
            self.model_tokenizer.addItem(f"{spec.family}: {name}", name)
        self.model_tokenizer.addItem("From a GGUF file…", GGUF_PREFIX)
        self.model_tokenizer.addItem("Ask the server", SERVER)
        self.model_tokenizer.currentIndexChanged.connect(self._tokenizer_chosen)
        self.model_tokenizer.activated.connect(self._tokenizer_activated)
        self.gguf_edit = QLineEdit()
        self.gguf_edit.setAccessibleName("GGUF file")
        self.gguf_edit.setPlaceholderText("/path/to/model.gguf")
        self.gguf_button = QPushButton("Choose…")
        self.gguf_button.setAccessibleName("Choose a GGUF file")
        self.gguf_button.clicked.connect(self._choose_gguf)
        gguf_row = QHBoxLayout()
        gguf_row.addWidget(self.gguf_edit, 1)
        gguf_row.addWidget(self.gguf_button)
        form = QFormLayout()
        form.addRow("Name", self.model_name)
        form.addRow("Window", self.model_window)
        form.addRow("Output limit", self.model_output)
        form.addRow("Provider", self.model_provider)
        form.addRow("Input $/M", self.price_in)
        form.addRow("Output $/M", self.price_out)
        form.addRow("Cache read $/M", self.price_cache)
        form.addRow("Tokenizer", self.model_tokenizer)
        form.addRow("Model file", gguf_row)

        self.save_model_button = QPushButton("Save model")
        self.save_model_button.setAccessibleName("Save model")
        self.save_model_button.clicked.connect(self._save_user_model)
        self.remove_model_button = QPushButton("Remove")
        self.remove_model_button.setAccessibleName("Remove model")
        self.remove_model_button.clicked.connect(self._remove_user_model)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.remove_model_button)
        row.addWidget(self.save_model_button)
        self.model_status = QLabel()
        self.model_status.setTextFormat(Qt.TextFormat.PlainText)
        self.model_status.setWordWrap(True)
        self.model_status.setAccessibleName("Models status")
        self.model_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        data_dir = self.controller.data_dir
        where = QLabel(f"Kept in {user_models_path(data_dir)}, over the model catalog: a "
                       "model of the same name is replaced. Every model picker lists them.")
        where.setTextFormat(Qt.TextFormat.PlainText)
        where.setWordWrap(True)
        mute(where)

        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(row)
        right.addWidget(self.model_status)
        right.addStretch(1)
        right.addWidget(where)
        layout = QHBoxLayout(page)
        layout.addLayout(left)
        layout.addLayout(right, 1)
        self._new_user_model()
        return page

    @staticmethod
    def _price_box(name: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setAccessibleName(name)
        box.setRange(0, 100_000)
        box.setDecimals(4)
        box.setPrefix("$")
        box.setSuffix(" per million tokens")
        return box

    def _fill_user_models(self, models: list[UserModel], problems: list[str]) -> None:
        self._user_models = {m.name: m for m in models}
        wanted = self.model_name.text().strip() if self._saving_model else self._editing
        self.user_model_list.blockSignals(True)
        self.user_model_list.clear()
        for m in models:
            item = QListWidgetItem(m.name)
            item.setData(Qt.ItemDataRole.UserRole, m.name)
            item.setToolTip(f"{m.context_window:,}-token window, tokenizer "
                            f"{tokenizer_label(m.tokenizer)}")
            self.user_model_list.addItem(item)
            if m.name == wanted:
                self.user_model_list.setCurrentItem(item)
        self.user_model_list.blockSignals(False)
        if wanted in self._user_models:
            self._show_user_model(self.user_model_list.currentItem(), None)
        elif self._saving_model:  # removed
            self._new_user_model()
        self._refresh_default_models()
        text = "\n".join(problems)
        if self._saving_model:
            self._saving_model = False
            self._set_status("\n".join(["Saved.", *problems]), ok=not problems,
                             warn=bool(problems), label=self.model_status)
        elif text:
            self._set_status(text, warn=True, label=self.model_status)

    def _refresh_default_models(self) -> None:
        """The default model's picker lists your models too."""
        from desktop_app.core.catalog import default_catalog

        current = self.default_model.currentText()
        self.default_model.blockSignals(True)
        self.default_model.clear()
        self.default_model.addItems([m.name for m in default_catalog().models])
        self.default_model.setCurrentText(current)
        self.default_model.blockSignals(False)

    def _new_user_model(self) -> None:
        self._editing = None
        self.user_model_list.clearSelection()
        self.user_model_list.setCurrentItem(None)
        self.model_name.clear()
        self.model_window.setValue(32_768)
        self.model_output.setValue(DEFAULT_MAX_OUTPUT)
        self.model_provider.setText("local")
        for box in (self.price_in, self.price_out):
            box.setValue(0)
        self.price_cache.setValue(-1)
        self.model_tokenizer.setCurrentIndex(0)
        self.gguf_edit.clear()
        self.remove_model_button.setEnabled(False)
        self.model_status.clear()

    def _show_user_model(self, item: QListWidgetItem | None, _previous: Any) -> None:
        model = self._user_models.get(item.data(Qt.ItemDataRole.UserRole)) if item else None
        if model is None:
            return
        self._editing = model.name
        self.model_name.setText(model.name)
        self.model_window.setValue(model.context_window)
        self.model_output.setValue(model.output_limit)
        self.model_provider.setText(model.provider)
        self.price_in.setValue(model.input_per_million)
        self.price_out.setValue(model.output_per_million)
        cached = model.cached_input_per_million
        self.price_cache.setValue(-1 if cached is None else cached)
        gguf = model.gguf
        choice = GGUF_PREFIX if gguf is not None else (model.tokenizer or "")
        self.model_tokenizer.setCurrentIndex(max(0, self.model_tokenizer.findData(choice)))
        self.gguf_edit.setText(gguf or "")
        self.remove_model_button.setEnabled(True)

    def _tokenizer_chosen(self, _index: int) -> None:
        from_file = self.model_tokenizer.currentData() == GGUF_PREFIX
        self.gguf_edit.setEnabled(from_file)
        self.gguf_button.setEnabled(from_file)

    def _tokenizer_activated(self, _index: int) -> None:
        if self.model_tokenizer.currentData() == GGUF_PREFIX and not self.gguf_edit.text():
            self._choose_gguf()

    def _choose_gguf(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "The model's GGUF file", self.gguf_edit.text(), "GGUF model (*.gguf);;All (*)")
        if path:
            self.gguf_edit.setText(path)

    def user_model(self) -> UserModel | None:
        """The model as entered, checked as the file is (core.user_models); None, with
        the reason in the status line, when the check refuses it."""
        choice = str(self.model_tokenizer.currentData() or "")
        if choice == GGUF_PREFIX:
            if not self.gguf_edit.text().strip():
                self._set_status("Choose the model's GGUF file.", warn=True,
                                 label=self.model_status)
                return None
            choice = GGUF_PREFIX + self.gguf_edit.text().strip()
        cached = self.price_cache.value()
        try:
            return UserModel.from_json({
                "name": self.model_name.text(), "provider": self.model_provider.text() or "local",
                "context_window": self.model_window.value(),
                "max_output": min(self.model_output.value(), self.model_window.value()),
                "input_per_million": self.price_in.value(),
                "output_per_million": self.price_out.value(),
                "cached_input_per_million": None if cached < 0 else cached,
                "tokenizer": choice or None})
        except UserModelError as exc:
            self._set_status(str(exc)[:1].upper() + str(exc)[1:] + ".", warn=True,
                             label=self.model_status)
            return None

    def _save_user_model(self) -> None:
        model = self.user_model()
        if model is None:
            return
        self._saving_model = True
        self._set_status("Saving…", label=self.model_status)
        self.controller.setup.save_user_model(model, replacing=self._editing)

    def _remove_user_model(self) -> None:
        if self._editing is None:
            return
        self._saving_model = True
        name, self._editing = self._editing, None
        self.model_name.clear()
        self.controller.setup.remove_user_model(name)

    # --- general --------------------------------------------------------------------
    def _general_tab(self) -> QWidget:
        page = QWidget()
        snapshot = self.controller.setup.settings_snapshot()
        self.default_model = QComboBox()
        self.default_model.setAccessibleName("Default model")
        self.default_model.addItems(snapshot["models"])
        self.default_model.setCurrentText(snapshot["default_model"])
        self.default_model.activated.connect(
            lambda _i: self.controller.setup.set_default("model", self.default_model.currentText()))
        self.default_profile = QComboBox()
        self.default_profile.setAccessibleName("Default profile")
        for name in snapshot["profiles"]:
            self.default_profile.addItem(profile_label(name), name)
        self.default_profile.setCurrentIndex(
            max(0, self.default_profile.findData(snapshot["default_profile"])))
        self.default_profile.activated.connect(
            lambda _i: self.controller.setup.set_default(
                "profile", self.default_profile.currentData()))
        self.default_strategy = QComboBox()
        self.default_strategy.setAccessibleName("Default history strategy")
        for kind in STRATEGIES:
            self.default_strategy.addItem(STRATEGY_LABELS[kind], kind)
        self.default_strategy.setCurrentIndex(
            max(0, self.default_strategy.findData(snapshot["default_strategy"])))
        self.default_strategy.activated.connect(
            lambda _i: self.controller.setup.set_default(
                "strategy", self.default_strategy.currentData()))

        self.theme = QComboBox()
        self.theme.setAccessibleName("Theme")
        for theme in THEMES:
            self.theme.addItem(THEME_LABELS[theme], theme)
        current_theme = getattr(self.window_, "theme", "system")
        self.theme.setCurrentIndex(max(0, self.theme.findData(current_theme)))
        self.theme.activated.connect(self._theme_chosen)

        folder = QLabel(snapshot["data_dir"] or "(not open yet)")
        folder.setTextFormat(Qt.TextFormat.PlainText)
        folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        folder.setWordWrap(True)
        folder.setAccessibleName("Data folder")
        self.data_folder_label = folder
        open_folder = QPushButton("Open folder")
        open_folder.setAccessibleName("Open the data folder")
        open_folder.setEnabled(bool(snapshot["data_dir"]) and self.window_ is not None)
        if self.window_ is not None:
            open_folder.clicked.connect(self.window_.open_data_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(folder, 1)
        folder_row.addWidget(open_folder)

        note = QLabel("New sessions start with these. Each session keeps its own choice, "
                      "made with the pickers above the gauge.")
        mute(note)
        note.setWordWrap(True)
        form = QFormLayout(page)
        form.addRow("Default model", self.default_model)
        form.addRow("Default profile", self.default_profile)
        form.addRow("Default history", self.default_strategy)
        form.addRow("", note)
        form.addRow("Theme", self.theme)
        form.addRow("Data folder", folder_row)
        return page

    def _theme_chosen(self, index: int) -> None:
        if self.window_ is not None and hasattr(self.window_, "set_theme"):
            self.window_.set_theme(self.theme.itemData(index))
