"""Which controller signal reaches which part of the window, and which user gesture
reaches which part of the controller: the whole wiring of the main window in one place.
The window's parts show what they are given; the controller is the only one that acts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow


def connect_window(window: MainWindow) -> None:
    """Everything but the panels in the tabs (see connect_panels)."""
    w, c = window, window.controller
    c.starting.connect(w.build_panels)

    # the sessions column
    s = w.session_list
    s.newRequested.connect(lambda: c.sessions.new())
    s.sessionActivated.connect(c.sessions.open)
    s.renameRequested.connect(c.sessions.rename)
    s.deleteRequested.connect(c.sessions.delete)
    s.archiveRequested.connect(c.sessions.archive)
    s.showArchivedChanged.connect(c.sessions.set_show_archived)
    s.searchRequested.connect(c.sessions.search)
    s.resultActivated.connect(w.open_result)
    w.snackbar.undo_button.clicked.connect(c.sessions.undo_delete)

    # the centre column
    w.composer.draftEdited.connect(c.budget.set_draft)
    w.composer.sendRequested.connect(c.turns.send)
    w.composer.stopRequested.connect(c.turns.stop)
    w.conversation.olderWanted.connect(c.sessions.load_older)
    w.conversation.actionTriggered.connect(w.on_message_action)
    w.setup_button.clicked.connect(w.open_settings)
    w.db_panel.restoreRequested.connect(c.database.restore_backup)
    w.db_panel.retryRequested.connect(c.database.retry)
    w.db_panel.openFolderRequested.connect(w.open_data_folder)
    c.databaseTrouble.connect(w.on_database_trouble)

    # the budget column's pickers
    r = w.right
    r.model_picker.activated.connect(
        lambda i: c.budget.set_model(r.model_picker.itemData(i) or r.model_picker.itemText(i)))
    r.profile_picker.activated.connect(
        lambda i: c.budget.set_profile(r.profile_picker.itemData(i)))
    r.strategy_picker.activated.connect(
        lambda i: c.budget.set_strategy(r.strategy_picker.itemData(i)))
    r.last_n_spin.valueChanged.connect(lambda n: c.budget.set_option("last_n", n))
    r.elastic_check.toggled.connect(lambda on: c.budget.set_option("elastic", on))
    r.stable_check.toggled.connect(lambda on: c.budget.set_option("stable_prefix", on))
    c.strategyOptionsChanged.connect(r.show_strategy_options)

    # what the controller says
    c.sessionsChanged.connect(w.session_list.set_sessions)
    c.sessionOpened.connect(w.on_session_opened)
    c.messagesLoaded.connect(w.on_messages_loaded)
    c.olderLoaded.connect(w.conversation.show_older)
    c.messageAdded.connect(w.on_message_added)
    c.messageChanged.connect(w.conversation.update_message)
    c.messageReplaced.connect(w.conversation.replace_message)
    c.inclusionChanged.connect(w.conversation.conversation.set_inclusion)
    # how a message's figure is counted (framing included): one signal, every view
    c.countingChanged.connect(w.conversation.conversation.set_counting)
    c.countingChanged.connect(w.composer.set_counting)
    c.countingChanged.connect(w.gauge.set_counting)
    c.requestChanged.connect(w.remember_request_messages)
    c.requestChanged.connect(w.conversation.conversation.take_counts)
    c.windowChanged.connect(w.gauge.set_window)
    c.reportChanged.connect(w.gauge.set_report)
    c.costChanged.connect(w.gauge.set_cost)
    c.prefixChanged.connect(w.gauge.set_prefix)
    c.draftCounted.connect(w.on_draft_counted)
    c.draftAccepted.connect(w.composer.clear_sent)
    c.streamStarted.connect(w.on_stream_started)
    c.streamText.connect(w.live_reply.append)
    c.streamFinished.connect(w.on_stream_finished)
    c.errorRaised.connect(w.show_error)
    c.noticeRaised.connect(w.centre.show_notice)
    c.importRepeated.connect(lambda path, what: _ask_import_again(w, path, what))
    c.providerStateChanged.connect(w.on_provider_state)
    c.choicesChanged.connect(r.show_choices)
    c.selectionChanged.connect(r.show_selection)
    c.searchFinished.connect(w.session_list.set_results)
    c.sessionDeleted.connect(w.on_session_deleted)


def connect_panels(window: MainWindow) -> None:
    """The panels in the tabs, once they are made."""
    r, c = window.right, window.controller
    r.memory_panel.factAdded.connect(c.panels.add_fact)
    r.memory_panel.factEdited.connect(c.panels.edit_fact)
    r.memory_panel.factDeleted.connect(c.panels.delete_fact)
    r.memory_panel.factPinned.connect(c.panels.pin_fact)
    r.summary_panel.summaryEdited.connect(c.panels.edit_summary)
    r.summary_panel.compactRequested.connect(c.panels.compact)
    c.compacted.connect(r.summary_panel.show_compacted)
    # the session's context: its system prompt, examples and the saved prompts
    ctx = r.context_panel
    ctx.systemPromptEdited.connect(lambda sid, text: c.sessions.edit_context(
        sid, system_prompt=text))
    ctx.examplesEdited.connect(lambda sid, examples: c.sessions.edit_context(
        sid, examples=examples))
    ctx.promptSaved.connect(c.panels.save_prompt)
    ctx.promptDeleted.connect(c.panels.delete_prompt)
    c.sessionOpened.connect(ctx.set_session)
    c.sessionDeleted.connect(ctx.forget)
    c.countingChanged.connect(ctx.set_counting)
    c.promptLibraryChanged.connect(ctx.set_library)
    r.profile_editor.profileSaved.connect(c.panels.save_profile)
    r.profile_editor.profileDeleted.connect(c.panels.delete_profile)
    r.inspector.messageSelected.connect(window.reveal_request_message)
    c.countingChanged.connect(r.inspector.set_counting)
    c.countingChanged.connect(r.memory_panel.set_counting)
    c.countingChanged.connect(r.summary_panel.set_counting)
    r.inspector.read_texts = c.sessions.read_texts_later
    c.requestChanged.connect(r.inspector.set_request)
    c.requestChanged.connect(
        lambda req, _m, _e: r.profile_editor.set_window(req.report.window))
    c.memoryChanged.connect(r.memory_panel.set_facts)
    c.summaryChanged.connect(r.summary_panel.set_summary)
    c.retentionChanged.connect(r.summary_panel.set_retention)
    c.retentionChanged.connect(r.memory_panel.set_retention)
    c.retentionChanged.connect(r.inspector.set_retention)
    c.prefixChanged.connect(r.inspector.set_prefix)
    r.summary_panel.retention.raiseRequested.connect(c.panels.give_more_room)
    r.memory_panel.retention.raiseRequested.connect(c.panels.give_more_room)
    c.usageChanged.connect(r.usage_chart.set_turns)
    c.profilesChanged.connect(r.profile_editor.set_profiles)


def _ask_import_again(window: MainWindow, path: Any, what: str) -> None:
    from desktop_app.ui.window_dialogs import ask_import_again  # a rare question

    ask_import_again(window, path, what)
