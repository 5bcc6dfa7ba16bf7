"""What a keystroke costs: the budget report for the draft being typed, from the last
assembly's component usage and an incremental count of the draft alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop_app.core.budget import BudgetReport, Component, make_report
from desktop_app.core.tokens import DraftCounter, Edit

if TYPE_CHECKING:
    from collections.abc import Sequence

    from desktop_app.core.assemble import AssembledRequest


class LiveBudget:
    """Holds the other components' usage from the last assembly; update_draft() recounts
    only the edited part of the draft and returns a fresh report."""

    def __init__(self, request: AssembledRequest, encoding: str, draft: str = "") -> None:
        self.request = request
        self.encoding = encoding
        self._base = {
            c: t for c, t in request.component_tokens.items() if c != Component.CURRENT_INPUT
        }
        self._framing = request.framing
        self._user_framing = self._framing.head("user", encoding)
        self._counter = DraftCounter(encoding)
        self.report: BudgetReport = request.report
        self.update_draft(draft)

    @property
    def draft_tokens(self) -> int:
        return self._counter.total

    @property
    def draft_text(self) -> str:
        """The draft counted (joined from its chunks when an edit changed them)."""
        return self._counter.text

    @property
    def draft_length(self) -> int:
        return len(self._counter)

    def input_cost(self) -> int:
        n = self._counter.total
        return self._user_framing + n if n or len(self._counter) else 0

    def update_draft(self, text: str) -> BudgetReport:
        """The report with `text` as the draft (compared with the draft counted to find
        what changed: edit_draft is cheaper when the edits are known)."""
        self._counter.update(text)
        return self._report()

    def edit_draft(self, edits: Sequence[Edit]) -> BudgetReport:
        """The report after `edits` (position, removed, inserted text) of the draft
        counted: the draft is not copied, only the text around each edit is counted."""
        self._counter.apply(edits)
        return self._report()

    def _report(self) -> BudgetReport:
        used = dict(self._base)
        used[Component.CURRENT_INPUT] = self.input_cost()
        priming = self.request.fixed_tokens
        request_tokens = priming + sum(used.values())
        self.report = make_report(
            self.request.plan, used, self.request.exact, request_tokens, priming
        )
        return self.report
