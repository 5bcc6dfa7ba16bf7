"""Progressive documents (guide §3.3): a document too large for the window, run through
the model part by part. Each part's request carries the task and the running notes (the
key information found so far, kept within a share of the prompt budget); the model's
reply is merged into the notes; after the last part one request combines the notes into
the answer.

Every request is counted with our exact counter (core.tokens) and checked to fit the
window with its reply reserve before it is sent: one that would not fit is never sent.
The run's state (the document's hash, the next part, the notes, each step's figures) is
written after every part as a JSON file in the data folder (<data>/progressive/<id>.json,
whole or not at all), so a stopped or failed run continues where it stopped, without
sending the finished parts again. Plain Python, no Qt; requests go through
llm.client.ChatClient like a chat turn (its retries, its clear errors)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from desktop_app.core.cancel import CancelToken
from desktop_app.core.files import write_text_atomically
from desktop_app.core.optimize import Chunk, OptimizeError, chunk_by_tokens, compress
from desktop_app.core.tokens import count_chat, count_text, decode, encode

if TYPE_CHECKING:
    from desktop_app.core.catalog import ModelInfo
    from desktop_app.llm.client import ChatClient

NOTES_SHARE = 0.25  # of the prompt budget, the most the running notes may take
MAX_PARTS = 1000  # requests in one run, the final one aside
MIN_PART_TOKENS = 64  # a window that leaves less than this for a part is refused
RUNS_FOLDER = "progressive"
NOTHING_NEW = "NOTHING NEW"
STATE_VERSION = 1
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")

PART_SYSTEM = (
    "You read a long document one part at a time, for a task. Reply with only the key "
    "information in this part that is relevant to the task and not already in the notes: "
    "short factual lines, with names, numbers and dates exact. If the part holds nothing "
    f"relevant, reply with {NOTHING_NEW}.")
FINAL_SYSTEM = (
    "You answer a task from the notes taken while reading a long document part by part. "
    "Use only the notes; if they do not hold the answer, say so.")
NO_NOTES = "(none yet)"


class ProgressiveError(Exception):
    """A run that cannot start or go on; the message says why (and what was kept)."""


class OverWindowError(ProgressiveError):
    """A request that would not fit the window: it is never sent."""


def part_messages(task: str, notes: str, part: str, index: int, total: int
                  ) -> list[dict[str, str]]:
    """The request for part `index` (0-based) of `total`."""
    done = f" (from parts 1-{index})" if index else ""
    user = (f"Task: {task}\n\nNotes so far{done}:\n{notes or NO_NOTES}\n\n"
            f"Part {index + 1} of {total}:\n{part}")
    return [{"role": "system", "content": PART_SYSTEM}, {"role": "user", "content": user}]


def final_messages(task: str, notes: str, total: int) -> list[dict[str, str]]:
    user = (f"Task: {task}\n\nNotes from all {total} parts of the document:\n"
            f"{notes or NO_NOTES}\n\nNow do the task.")
    return [{"role": "system", "content": FINAL_SYSTEM}, {"role": "user", "content": user}]


@dataclass(frozen=True)
class Budget:
    """How a window is shared by each part's request."""

    window: int
    reply_reserve: int  # max_tokens of every request
    notes_tokens: int  # the most the running notes may take
    part_tokens: int  # the most a part may take
    overhead: int  # instructions, task and framing


def reply_reserve_for(info: ModelInfo, window: int) -> int:
    return max(1, min(info.max_output or 4096, max(256, window // 8), 4096, window // 2))


def plan_budget(info: ModelInfo, window: int, task: str, *,
                reply_reserve: int | None = None, notes_share: float = NOTES_SHARE) -> Budget:
    """Each request is: instructions + task + notes (at most notes_share of the prompt
    budget) + the part, with `reply_reserve` left for the reply, within `window`; a small
    margin covers the tokens where the part meets the text around it."""
    if window < 1:
        raise ProgressiveError(f"a window of {window} tokens holds nothing")
    reserve = reply_reserve or reply_reserve_for(info, window)
    prompt_budget = window - reserve
    overhead = count_chat(part_messages(task, "", "", MAX_PARTS, MAX_PARTS), info).tokens
    notes = int(prompt_budget * notes_share)
    margin = 16 + prompt_budget // 100
    part = prompt_budget - overhead - notes - margin
    if part < MIN_PART_TOKENS:
        raise ProgressiveError(
            f"a {window:,}-token window leaves {max(part, 0)} tokens for a part of the "
            f"document after the instructions and task ({overhead:,}), the notes "
            f"({notes:,}) and the reply ({reserve:,}); use a larger window or a shorter task")
    return Budget(window, reserve, notes, part, overhead)


@dataclass
class Step:
    part: int  # 0-based; -1 for the final request
    prompt_tokens: int  # our exact count of what was sent
    prompt_exact: bool
    reported_prompt_tokens: int | None
    completion_tokens: int | None
    reply: str
    notes_tokens: int  # the notes after this step
    notes_sent: str | None = None  # the notes the request carried (None: not recorded)


@dataclass
class RunState:
    id: str
    file: str
    file_hash: str
    model: str
    task: str
    encoding: str
    window: int
    reply_reserve: int
    notes_tokens: int
    part_tokens: int
    parts: int
    done: int = 0  # parts finished; the next one to send
    notes: str = ""
    steps: list[Step] = field(default_factory=list)
    answer: str | None = None
    status: str = "running"  # running, stopped, failed, finished
    error: str | None = None
    created: str = ""
    updated: str = ""
    version: int = STATE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunState:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError("not a progressive run of this version")
        steps = [Step(**s) for s in data.pop("steps", [])]
        return cls(steps=steps, **data)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def runs_folder(data_dir: Path | str) -> Path:
    return Path(data_dir) / RUNS_FOLDER


def state_path(data_dir: Path | str, run_id: str) -> Path:
    if not _RUN_ID.match(run_id):
        raise ProgressiveError(f"{run_id!r} is not a run id (letters, digits and dashes)")
    return runs_folder(data_dir) / f"{run_id}.json"


def save_state(data_dir: Path | str, state: RunState) -> Path:
    """Write the run's state whole or not at all (a temporary file, then a rename)."""
    path = state_path(data_dir, state.id)
    state.updated = _now()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, state.to_json())
    except OSError as exc:
        raise ProgressiveError(f"cannot save the run to {path}: {exc.strerror or exc}") from exc
    return path


def load_state(data_dir: Path | str, run_id: str) -> RunState:
    path = state_path(data_dir, run_id)
    try:
        return RunState.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProgressiveError(f"no progressive run {run_id} in {path.parent}") from None
    except OSError as exc:
        raise ProgressiveError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise ProgressiveError(f"{path}: not a readable progressive run ({exc})") from None


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    return f"{_dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def split_document(text: str, part_tokens: int, encoding: str) -> list[Chunk]:
    try:
        return chunk_by_tokens(text, part_tokens, 0, encoding)
    except OptimizeError as exc:
        raise ProgressiveError(str(exc)) from None


def start_run(info: ModelInfo, window: int, task: str, text: str, file: str, *,
              reply_reserve: int | None = None, notes_share: float = NOTES_SHARE,
              run_id: str | None = None) -> RunState:
    """A new run's state: the budget planned, the document split (refused when empty or
    when it would take more than MAX_PARTS requests)."""
    task = task.strip()
    if not task:
        raise ProgressiveError("give the task: what to find or do with the document")
    if not text.strip():
        raise ProgressiveError(f"{file}: no text in it")
    budget = plan_budget(info, window, task, reply_reserve=reply_reserve,
                         notes_share=notes_share)
    parts = split_document(text, budget.part_tokens, info.encoding)
    if len(parts) > MAX_PARTS:
        raise ProgressiveError(
            f"{file}: {len(parts):,} parts of {budget.part_tokens:,} tokens at this window; "
            f"a run takes at most {MAX_PARTS:,} (use a larger window or a part of the file)")
    now = _now()
    return RunState(id=run_id or new_run_id(), file=file, file_hash=text_hash(text),
                    model=info.name, task=task, encoding=info.encoding, window=window,
                    reply_reserve=budget.reply_reserve, notes_tokens=budget.notes_tokens,
                    part_tokens=budget.part_tokens, parts=len(parts), created=now,
                    updated=now)


def keep_within(notes: str, limit: int, encoding: str) -> str:
    """The notes in at most `limit` tokens: as they are when they fit, else compressed
    (core.optimize: the lightest level that reaches the target), else cut."""
    if count_text(notes, encoding) <= limit:
        return notes
    if limit < 1:
        return ""
    try:
        shorter = compress(notes, limit, encoding).text
    except OptimizeError:
        shorter = notes
    if count_text(shorter, encoding) <= limit:
        return shorter
    ids = encode(shorter, encoding)[:limit]
    while ids and count_text(decode(ids, encoding), encoding) > limit:
        ids = ids[:-1]
    return decode(ids, encoding)


def merge_notes(notes: str, reply: str) -> str:
    """The notes with the reply's new lines added (a line already in the notes is not
    repeated; a reply saying NOTHING NEW adds nothing)."""
    reply = reply.strip()
    if not reply or reply.upper().rstrip(".").startswith(NOTHING_NEW):
        return notes
    have = {_normal(line) for line in notes.splitlines() if line.strip()}
    lines = notes.splitlines() if notes.strip() else []
    for line in reply.splitlines():
        if line.strip() and _normal(line) not in have:
            lines.append(line.rstrip())
            have.add(_normal(line))
    return "\n".join(lines)


def _normal(line: str) -> str:
    return " ".join(line.strip().lstrip("-*•").split()).lower()


def fitted(messages: list[dict[str, str]], info: ModelInfo, window: int,
           reserve: int) -> tuple[int, bool]:
    """Our exact count of the request; OverWindowError when it and the reply reserve do
    not fit the window (such a request is never sent)."""
    counted = count_chat(messages, info)
    if counted.tokens + reserve > window:
        raise OverWindowError(
            f"the request would take {counted.tokens:,} tokens + {reserve:,} for the reply, "
            f"more than the {window:,}-token window; it was not sent")
    return counted.tokens, counted.exact


@dataclass(frozen=True)
class Section:
    """A piece of a step's request, with our count of its text."""

    name: str  # "Instructions", "Task", "Notes so far", "Part 3 of 8", ...
    kind: str  # instructions, task, notes, part, framing
    text: str
    tokens: int


@dataclass(frozen=True)
class StepRequest:
    """What a step sent, as the inspector shows a turn: the messages, their sections
    with token figures (the labels and chat framing are the rest of the exact count),
    and the reply that came back."""

    step: Step
    messages: list[dict[str, str]]
    sections: list[Section]
    window: int
    reply_reserve: int

    @property
    def title(self) -> str:
        """"Part 3 of 8", or "Answer" for the final request."""
        return "Answer" if self.step.part < 0 else self.sections[3].name


def step_request(state: RunState, step: Step, part_text: str | None) -> StepRequest:
    """The request `step` sent, rebuilt from the run's state and the part's text (None
    for the final request)."""
    notes = step.notes_sent if step.notes_sent is not None else "(not recorded)"
    if step.part < 0:
        messages = final_messages(state.task, notes, state.parts)
        body = Section("Combine the notes", "part", "Now do the task.",
                       count_text("Now do the task.", state.encoding))
    else:
        text = part_text or ""
        messages = part_messages(state.task, notes, text, step.part, state.parts)
        body = Section(f"Part {step.part + 1} of {state.parts}", "part", text,
                       count_text(text, state.encoding))
    system = messages[0]["content"]
    pieces = [Section("Instructions", "instructions", system,
                      count_text(system, state.encoding)),
              Section("Task", "task", state.task, count_text(state.task, state.encoding)),
              Section("Notes so far", "notes", notes, count_text(notes, state.encoding)),
              body]
    rest = max(0, step.prompt_tokens - sum(p.tokens for p in pieces))
    pieces.append(Section("Labels and chat framing", "framing",
                          "The headings around the task, the notes and the part, and the "
                          "chat format's tokens around each message.", rest))
    return StepRequest(step, messages, pieces, state.window, state.reply_reserve)


def step_requests(state: RunState, text: str) -> list[StepRequest]:
    """Every step's request of a run over `text` (for showing a saved run)."""
    parts = split_document(text, state.part_tokens, state.encoding) if state.steps else []
    return [step_request(state, s, parts[s.part].text if 0 <= s.part < len(parts) else None)
            for s in state.steps]


def list_runs(data_dir: Path | str, limit: int = 50) -> list[RunState]:
    """The newest saved runs (at most `limit`, newest first); unreadable files skipped."""
    folder = runs_folder(data_dir)
    try:
        files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    runs: list[RunState] = []
    for path in files[:limit]:
        try:
            runs.append(RunState.from_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
    return runs


def unfinished_run(data_dir: Path | str, text: str) -> RunState | None:
    """The newest stopped or failed run over this very text, if any."""
    digest = text_hash(text)
    for run in list_runs(data_dir):
        if run.file_hash == digest and run.status != "finished":
            return run
    return None


@dataclass(frozen=True)
class Progress:
    state: RunState
    step: Step
    request: StepRequest


def run_progressive(client: ChatClient, info: ModelInfo, state: RunState, text: str,
                    data_dir: Path | str, *, window: int | None = None,
                    cancel: CancelToken | None = None,
                    on_step: Callable[[Progress], None] | None = None) -> RunState:
    """Send the parts not done yet, then the final request; the state is saved after
    each. Returns the state: "finished" with the answer, or "stopped" when `cancel` was
    set (the part under way is sent again on resume). An LLM error or a reply cut off
    saves the state as "failed" and raises ProgressiveError saying what was kept.
    `window`: the window now, when it is smaller than the one the run was planned for."""
    from desktop_app.llm.errors import LLMError

    if text_hash(text) != state.file_hash:
        raise ProgressiveError(f"{state.file}: not the text run {state.id} read (it changed "
                               "since); start a new run")
    window = min(window or state.window, state.window)
    parts = split_document(text, state.part_tokens, state.encoding)
    if len(parts) != state.parts:
        raise ProgressiveError(f"{state.file}: splits into {len(parts)} parts, not the "
                               f"{state.parts} of run {state.id}; start a new run")
    token = cancel or CancelToken()
    reserve = state.reply_reserve
    state.status, state.error = "running", None

    def send(messages: list[dict[str, str]], tokens: int, exact: bool) -> Any:
        try:
            said = client.stream_chat(messages, state.model, max_tokens=reserve, cancel=token,
                                      estimated_prompt_tokens=tokens, prompt_exact=exact)
        except LLMError as exc:
            fail(exc.message)
        except BaseException:  # Ctrl+C: what is done is kept
            token.cancel()
            state.status = "stopped"
            save_state(data_dir, state)
            raise
        if said.cancelled:
            return None
        if said.interrupted:
            fail(f"the reply was cut off ({said.error or 'the stream ended early'})")
        return said

    def fail(reason: str) -> NoReturn:
        state.status, state.error = "failed", reason
        save_state(data_dir, state)
        raise ProgressiveError(f"{reason} ({state.done} of {state.parts} parts done and "
                               "saved)")

    def stopped() -> RunState:
        state.status = "stopped"
        save_state(data_dir, state)
        return state

    save_state(data_dir, state)
    for index in range(state.done, state.parts):
        if token.cancelled:
            return stopped()
        notes = keep_within(state.notes, state.notes_tokens, state.encoding)
        messages = part_messages(state.task, notes, parts[index].text, index, state.parts)
        try:
            tokens, exact = fitted(messages, info, window, reserve)
        except OverWindowError:  # the window shrank since: fewer notes, then give up
            notes = keep_within(notes, state.notes_tokens // 4, state.encoding)
            messages = part_messages(state.task, notes, parts[index].text, index, state.parts)
            tokens, exact = fitted(messages, info, window, reserve)
        said = send(messages, tokens, exact)
        if said is None:
            return stopped()
        state.notes = keep_within(merge_notes(notes, said.text), state.notes_tokens,
                                  state.encoding)
        step = Step(index, tokens, exact, said.prompt_tokens, said.completion_tokens,
                    said.text, count_text(state.notes, state.encoding), notes)
        state.steps.append(step)
        state.done = index + 1
        save_state(data_dir, state)
        if on_step is not None:
            on_step(Progress(state, step, step_request(state, step, parts[index].text)))
    if state.answer is None:
        if token.cancelled:
            return stopped()
        messages = final_messages(state.task, state.notes, state.parts)
        tokens, exact = fitted(messages, info, window, reserve)
        said = send(messages, tokens, exact)
        if said is None:
            return stopped()
        state.answer = said.text
        step = Step(-1, tokens, exact, said.prompt_tokens, said.completion_tokens, said.text,
                    count_text(state.notes, state.encoding), state.notes)
        state.steps.append(step)
        if on_step is not None:
            on_step(Progress(state, step, step_request(state, step, None)))
    state.status = "finished"
    save_state(data_dir, state)
    return state
