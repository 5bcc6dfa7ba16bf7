"""`token-budget --self-test`: proves that this installation (a checkout, a wheel or a
frozen bundle) carries every file it needs and that each layer starts, with no network
and without touching the user's own data folder.

Each check prints one line, `ok` or `FAILED` with the reason; the exit status is 0 only
when every check passed. A check that fails never stops the others, so one run names
every missing piece at once."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# One known count per shipped encoding: "hello world" is two tokens in all of them.
KNOWN_TEXT = "hello world"
KNOWN_COUNT = 2
# A small window so that every strategy has to evict, summarize and extract for real.
TEST_WINDOW = 4096
TEST_MODEL = "gpt-4o-mini"


class CheckFailed(Exception):
    """A check ran and found the installation wrong."""


Check = tuple[str, Callable[[], str]]  # (name, run() -> detail on success; raises on failure)


def check_shipped_files() -> str:
    from desktop_app.core.families import template_names
    from desktop_app.core.tokenizers import SPECS
    from desktop_app.llm.prompts import EXTRACT_MEMORY, SUMMARIZE
    from desktop_app.paths import migrations_dir, resource

    files = [resource("models.json"), resource("icons", "app.png")]
    files += [resource("prompts", name) for name in (SUMMARIZE, EXTRACT_MEMORY)]
    files += [resource(*spec.path) for spec in SPECS.values()]
    files += [resource("chat_templates", f"{name}.jinja") for name in template_names()]
    versions = migrations_dir() / "versions"
    if not any(versions.glob("*.py")):
        raise CheckFailed(f"no migration scripts in {versions}")
    return f"{len(files)} resource files and the migrations in {migrations_dir().parent}"


def encoding_check(name: str) -> Callable[[], str]:
    def run() -> str:
        from desktop_app.core.tokens import count_text

        got = count_text(KNOWN_TEXT, name)
        if got != KNOWN_COUNT:
            raise CheckFailed(f"{KNOWN_TEXT!r} counted as {got} tokens, expected {KNOWN_COUNT}")
        return f"{KNOWN_TEXT!r} = {got} tokens, offline"

    return run


def check_catalog() -> str:
    from desktop_app.core.catalog import default_catalog, lookup_model

    catalog = default_catalog()
    model = lookup_model(TEST_MODEL)
    if not model.known:
        raise CheckFailed(f"the catalog does not know {TEST_MODEL}")
    return f"{len(catalog.models)} models; {TEST_MODEL}: {model.context_window} tokens"


def sample_conversation() -> list:
    """Forty messages with facts worth remembering and text worth summarizing."""
    from desktop_app.core.records import Message

    topics = ["the budget gauge", "history strategies", "rolling summaries", "memory facts"]
    messages = []
    for i in range(40):
        topic = topics[i % len(topics)]
        if i % 2 == 0:
            text = (
                f"My project is Token Budget. Question {i}: how should {topic} behave when the"
                f" window is nearly full? Remember that the deadline is Friday {i}."
            )
            messages.append(Message("user", text, id=i + 1, position=i))
        else:
            text = (
                f"Answer {i}: {topic.capitalize()} keep the request inside the window. The"
                " oldest turns are evicted first, pinned ones stay, and what was dropped is"
                " shown to the user rather than cut silently."
            )
            messages.append(Message("assistant", text, id=i + 1, position=i))
    return messages


def check_assembly() -> str:
    from desktop_app.core.assemble import AssemblyInput, assemble
    from desktop_app.core.budget import BUILTIN_PROFILES
    from desktop_app.core.catalog import lookup_model
    from desktop_app.core.history import (
        STRATEGIES,
        ExtractiveSummarizer,
        HistoryStrategy,
        OfflineFactExtractor,
    )

    model = lookup_model(TEST_MODEL).with_context_window(TEST_WINDOW)
    messages = sample_conversation()
    problems = []
    runs = 0
    for profile in BUILTIN_PROFILES.values():
        for kind in STRATEGIES:
            request = assemble(
                AssemblyInput(
                    system_prompt="You are a careful assistant. Answer briefly.",
                    messages=messages,
                    draft="What did we decide about the gauge?",
                    model=model,
                    profile=profile,
                    strategy=HistoryStrategy(kind=kind, last_n=8),
                ),
                summarizer=ExtractiveSummarizer(),
                extractor=OfflineFactExtractor(),
            )
            runs += 1
            where = f"{profile.name}/{kind}"
            if not request.fits:
                problems.append(f"{where}: {request.problem}")
            elif request.tokens + request.max_tokens > model.context_window:
                problems.append(
                    f"{where}: {request.tokens} + {request.max_tokens} reply tokens"
                    f" exceed the {model.context_window}-token window"
                )
            elif len(request.states) != len(messages):
                problems.append(f"{where}: {len(request.states)} states for {len(messages)}")
    if problems:
        raise CheckFailed("; ".join(problems))
    return (
        f"{runs} requests ({len(BUILTIN_PROFILES)} profiles x {len(STRATEGIES)} strategies)"
        f" fit a {TEST_WINDOW}-token window"
    )


def database_check(data_dir: Path) -> Callable[[], str]:
    def run() -> str:
        from desktop_app.core.records import Message, Session
        from desktop_app.store import open_database
        from desktop_app.store.migrate import head_revision, known_revisions

        with open_database(data_dir) as db:
            problems = [line for line in db.integrity_check() if line != "ok"]
            if problems:
                raise CheckFailed(f"integrity check of {db.path}: {'; '.join(problems)}")
            session = db.sessions.create(Session(title="self-test"))
            db.messages.append(session.id, Message("user", KNOWN_TEXT))
            stored = [m.content for m in db.messages.all_for_session(session.id)]
            if stored != [KNOWN_TEXT]:
                raise CheckFailed(f"stored {KNOWN_TEXT!r} but read back {stored!r}")
            revisions = known_revisions()
        return (
            f"fresh database at schema {head_revision()}"
            f" ({len(revisions)} migration{'s' if len(revisions) != 1 else ''}), written and read"
        )

    return run


def check_text_services() -> str:
    """Qt's locale services. On Linux Qt takes them from the ICU library the bundle
    ships with trimmed data (packaging/trim_icu.py): a trim too far shows up here."""
    from PySide6.QtCore import QCollator, QLocale, QTimeZone

    problems = []
    swedish = QCollator(QLocale("sv_SE"))
    # "a" before "B" rules out plain code-point order; "ä" after "z" is Swedish tailoring
    if swedish.compare("a", "B") >= 0 or swedish.compare("\u00e4", "z") <= 0:
        problems.append("Swedish collation does not sort a < B < z < \u00e4")
    berlin = QTimeZone(b"Europe/Berlin")
    name = berlin.displayName(
        QTimeZone.TimeType.StandardTime, QTimeZone.NameType.LongName, QLocale("en_US")
    )
    if not berlin.isValid() or not name.strip():
        problems.append(f"no name for the Europe/Berlin time zone (got {name!r})")
    # locale-aware case mapping comes from ICU on Linux only
    if sys.platform.startswith("linux") and QLocale("tr_TR").toUpper("i") != "\u0130":
        problems.append("Turkish upper case of 'i' is not a dotted capital I")
    if problems:
        raise CheckFailed("; ".join(problems))
    return "collation, time-zone names and case mapping work"


# The keychain backend keyring uses on each platform (see keyring's entry points).
KEYCHAIN_BACKENDS = {"linux": "SecretService", "win32": "Windows", "darwin": "macOS"}
# Platforms where a keychain is always there: finding none means the build lacks it.
KEYCHAIN_REQUIRED = ("win32", "darwin")
# The throwaway entry the check writes, reads and deletes: never the app's own service.
TEST_SERVICE = "TokenBudget self-test"
KEYCHAIN_TIMEOUT_S = 20.0


def _run_with_timeout(work: Callable[[], str], timeout_s: float, what: str) -> str:
    """A locked keychain can wait for a password prompt nobody answers: give up, say so."""
    import threading

    result: dict[str, object] = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            result["error"] = exc

    thread = threading.Thread(target=target, name="self-test keychain", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise CheckFailed(f"{what} did not answer within {timeout_s:.0f} s (locked keychain?)")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return str(result["value"])


def check_keychain() -> str:
    """The OS keychain, for real: keyring's backend for this platform is registered and
    chosen, and a throwaway secret in a test service is stored, read back and deleted.
    Where there is no keychain (a headless Linux, the frozen Linux folder) it says so."""
    import secrets
    import uuid
    from importlib.metadata import entry_points

    from desktop_app.llm.keys import KeyStore

    backends = {ep.name: ep for ep in entry_points(group="keyring.backends")}
    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    wanted = KEYCHAIN_BACKENDS.get(platform)
    if wanted is not None and wanted not in backends:
        found = ", ".join(sorted(backends)) or "none"
        raise CheckFailed(f"keyring's {wanted} backend is not registered (found: {found})")
    store = KeyStore()
    backend = store.backend
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if not store.available:
        if platform in KEYCHAIN_REQUIRED and not os.environ.get("PYTHON_KEYRING_BACKEND"):
            raise CheckFailed(f"no usable keychain: keyring chose {name} instead of {wanted}")
        if platform == "linux" and getattr(sys, "frozen", False):
            # by design (packaging/bundle_config.py): the frozen Linux folder leaves out
            # secretstorage and cryptography; keys are then kept for the session only
            return "no keychain: this Linux build keeps API keys for the session only"
        return f"no keychain here ({name}): API keys would be kept for the session only"

    account = f"check-{uuid.uuid4().hex[:12]}"
    secret = secrets.token_urlsafe(24)

    def exercise() -> str:
        backend.set_password(TEST_SERVICE, account, secret)
        try:
            read = backend.get_password(TEST_SERVICE, account)
            if read != secret:
                raise CheckFailed("a secret stored in the keychain read back different")
        finally:
            backend.delete_password(TEST_SERVICE, account)
        if backend.get_password(TEST_SERVICE, account) is not None:
            raise CheckFailed("a secret deleted from the keychain can still be read")
        return f"{name}: a test secret stored, read back and deleted ({TEST_SERVICE!r})"

    return _run_with_timeout(exercise, KEYCHAIN_TIMEOUT_S, f"the keychain ({name})")


def window_check(
    data_dir: Path, timeout_s: float = 30.0, open_file: Path | None = None
) -> Callable[[], str]:
    """The main window starts; with `open_file`, the file is handed to it the way a
    double-click does (ui.app's open-files path) and must be imported as a session."""

    def run() -> str:
        from PySide6.QtCore import QEventLoop, QTimer

        from desktop_app.ui.app import _open_files_when_ready, build_window, create_application

        app = create_application([sys.argv[0] if sys.argv else "token-budget"])
        window = build_window(data_dir)
        errors: list[str] = []
        notices: list[str] = []
        loop = QEventLoop()
        window.controller.errorRaised.connect(errors.append)
        window.controller.errorRaised.connect(loop.quit)
        if open_file is None:
            window.controller.ready.connect(loop.quit)
        else:
            _open_files_when_ready(app, window, [open_file])

            def noticed(line: str) -> None:  # the import's one-line summary names the file
                if open_file.name in line:
                    notices.append(line)
                    loop.quit()

            window.controller.noticeRaised.connect(noticed)
        timer = QTimer(singleShot=True, interval=int(timeout_s * 1000))
        timer.timeout.connect(loop.quit)
        try:
            window.show()
            timer.start()
            window.controller.start()
            loop.exec()
            title = window.windowTitle()
            ready = timer.isActive()
            sessions = _session_titles(window) if open_file is not None else []
        finally:
            timer.stop()
            window.close()
            window.deleteLater()
            app.processEvents()
        if errors:
            raise CheckFailed(errors[0])
        if not ready:
            what = (f"{open_file.name} was not opened" if open_file
                    else "the window's controller was not ready")
            raise CheckFailed(f"{what} after {timeout_s:.0f} s")
        if open_file is None:
            return f"main window built offscreen and its controller started ({title!r})"
        if not sessions:
            raise CheckFailed(f"opening {open_file.name} left no session ({'; '.join(notices)})")
        return f"{open_file.name} opened in the window: {notices[0]} ({', '.join(sessions)})"

    return run


def _session_titles(window) -> list[str]:
    db = window.controller.db
    if db is None:
        return []
    return [session.title for session in db.sessions.list()]


def check_chat_templates() -> str:
    from desktop_app.core.catalog import lookup_model
    from desktop_app.core.tokens import count_chat

    model = lookup_model("llama3.1:8b")
    count = count_chat([{"role": "user", "content": KNOWN_TEXT}], model)
    if not count.exact or count.tokens <= KNOWN_COUNT:
        raise CheckFailed(f"the {model.template} chat template did not render ({count})")
    return f"{model.template}: a one-message chat is {count.tokens} tokens"


def all_checks(data_dir: Path, open_file: Path | None = None) -> Iterator[Check]:
    from desktop_app.core.tokenizers import SPECS

    yield "shipped files", check_shipped_files
    for name in SPECS:
        yield f"encoding {name}", encoding_check(name)
    yield "chat templates", check_chat_templates
    yield "model catalog", check_catalog
    yield "request assembly", check_assembly
    yield "database and migrations", database_check(data_dir / "db")
    yield "keychain", check_keychain
    yield "Qt text services", check_text_services
    yield "main window", window_check(data_dir / "window")
    if open_file is not None:
        yield "open a file", window_check(data_dir / "open", open_file=open_file)


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return f"module {exc.name} is missing from this installation"
    text = " ".join(str(exc).split()) or "(no message)"
    if isinstance(exc, CheckFailed):
        return text
    return f"{type(exc).__name__}: {text}"


def run_checks(checks: Iterator[Check], out=None) -> int:
    """Runs every check, prints one line each and a last summary; returns the exit code."""
    out = out or sys.stdout
    failed = 0
    total = 0
    for name, run in checks:
        total += 1
        started = time.perf_counter()
        try:
            detail = run()
        except Exception as exc:  # noqa: BLE001 - any failure is a report, never a crash
            failed += 1
            print(f"FAILED  {name}: {failure_reason(exc)}", file=out, flush=True)
            continue
        ms = (time.perf_counter() - started) * 1000
        print(f"ok      {name}: {detail} [{ms:.0f} ms]", file=out, flush=True)
    if failed:
        print(f"self-test FAILED: {failed} of {total} checks failed", file=out)
        return 1
    print(f"self-test passed: {total} checks", file=out)
    return 0


def run_self_test(args: argparse.Namespace) -> int:
    from desktop_app import __version__

    # The window opens on Qt's offscreen platform: nothing appears on screen, and the
    # check works the same with or without a display.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    target = getattr(args, "self_test", True)
    open_file = Path(target).resolve() if isinstance(target, str) else None
    log_path = os.environ.get(LOG_ENV)
    out = _Tee(sys.stdout, Path(log_path)) if log_path else sys.stdout
    try:
        print(f"Token Budget {__version__} self-test ({'frozen' if is_frozen() else 'source'})",
              file=out, flush=True)
        if open_file is not None and not open_file.is_file():
            print(f"FAILED  open a file: {open_file} does not exist", file=out, flush=True)
            return 1
        with tempfile.TemporaryDirectory(
            prefix="token-budget-selftest-", ignore_cleanup_errors=True
        ) as folder:
            return run_checks(all_checks(Path(folder), open_file), out=out)
    finally:
        if out is not sys.stdout:
            out.close()


# The windowed program (TokenBudget.exe) has no console to print to: with this set, the
# self-test also writes its lines to that file (the release workflow reads it).
LOG_ENV = "TOKEN_BUDGET_SELF_TEST_LOG"


class _Tee:
    def __init__(self, stream, path: Path) -> None:
        self.stream = stream
        self.file = path.open("w", encoding="utf-8")

    def write(self, text: str) -> int:
        if self.stream is not None:
            self.stream.write(text)
        return self.file.write(text)

    def flush(self) -> None:
        if self.stream is not None:
            self.stream.flush()
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))
