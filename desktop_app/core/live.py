"""What a keystroke costs: the budget report for the draft being typed, from the last
assembly's component usage and an incremental count of the draft alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop_app.core.budget import BudgetReport, Component, make_report
from desktop_app.core.tokens import DraftCounter

if TYPE_CHECKING:
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
        return self._counter.text

    def input_cost(self) -> int:
        n = self._counter.total
        return self._user_framing + n if n or self._counter.text else 0

    def update_draft(self, text: str, edit: tuple[int, int, int] | None = None
                     ) -> BudgetReport:
        """The report with `text` as the draft; `edit` (position, removed, added) says
        where it differs from draft_text, as the editor's change signal gives it."""
        self._counter.update(text, edit)
        used = dict(self._base)
        used[Component.CURRENT_INPUT] = self.input_cost()
        priming = self.request.fixed_tokens
        request_tokens = priming + sum(used.values())
        self.report = make_report(
            self.request.plan, used, self.request.exact, request_tokens, priming
        )
        return self.report
