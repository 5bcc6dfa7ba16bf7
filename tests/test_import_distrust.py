"""Imports distrust their input (issue 12): imported token counts are dropped, zips and
nesting are bounded, field types and ranges are checked with a one-line error, and
random JSON never produces anything but ImportFormatError."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.cli import main
from desktop_app.core.records import MESSAGE_STATUSES, ROLES, Message, Session
from desktop_app.store import ImportFormatError, open_database, transfer
from desktop_app.store.transfer import export_document, import_file
from desktop_app.store.validate import Fields, check_tree


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "db")
    yield database
    database.close()


def doc(**session):
    base = {"title": "t", "model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    return {"format": "token-budget", "version": 1, "sessions": [{**base, **session}]}


def write(tmp_path, data, name="in.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_imported_token_counts_are_dropped_not_trusted(db, tmp_path):
    big = "word " * 5000
    path = write(tmp_path, doc(messages=[{"role": "user", "content": big,
                                          "meta": {"token_counts": {"o200k_base": 1}}}]))
    result = import_file(db, path)
    (stored,) = db.messages.all_for_session(result.session_ids[0])
    assert stored.token_counts == {}  # before: {"o200k_base": 1}, and the gauge said "Fits"


@pytest.mark.parametrize("session, where", [
    ({"messages": [{"role": "user", "content": "x", "meta": {"prompt_tokens": 2**64}}]},
     "prompt_tokens"),
    ({"messages": [{"role": "user", "content": "x", "meta": {"cost": 10**400}}]}, "cost"),
    ({"messages": [{"role": "user", "content": "x", "name": 5}]}, "name"),
    ({"messages": [{"role": "user", "content": "x",
                    "meta": {"created_at": "9999-12-31T23:59:59-23:59"}}]}, "created_at"),
    ({"created_at": 1e15}, "created_at"),
    ({"created_at": "0001-01-01T00:00:00"}, "created_at"),
    ({"strategy": "last_n", "strategy_settings": {"last_n": "abc"}}, "strategy_settings"),
    ({"strategy": "no_such"}, "strategy"),
])
def test_bad_fields_are_one_line_errors(db, tmp_path, session, where):
    with pytest.raises(ImportFormatError) as err:
        import_file(db, write(tmp_path, doc(**session)))
    assert where in str(err.value) and "\n" not in str(err.value)
    assert db.sessions.list() == []


def test_lone_surrogates_nan_and_huge_integers_anywhere(db, tmp_path):
    raw = json.dumps(doc(title="x")).replace('"title": "x"', '"title": "a\\ud800b"')
    with pytest.raises(ImportFormatError, match="surrogate"):
        import_file(db, write(tmp_path, raw))
    raw = json.dumps(doc(strategy_settings={"k": 1})).replace('"k": 1', '"k": NaN')
    with pytest.raises(ImportFormatError, match="NaN"):
        import_file(db, write(tmp_path, raw))
    with pytest.raises(ImportFormatError, match="too large"):
        import_file(db, write(tmp_path, doc(strategy_settings={"k": 2**70})))
    # a number past Python's own limit is said in the app's words, not Python's advice
    # to programmers (sys.set_int_max_str_digits)
    raw = json.dumps(doc(strategy_settings={"k": 1})).replace('"k": 1', '"k": ' + "9" * 5000)
    with pytest.raises(ImportFormatError, match="a number in it has more than 4,300 digits") \
            as caught:
        import_file(db, write(tmp_path, raw))
    assert "sys." not in str(caught.value)
    with pytest.raises(ImportFormatError, match="the file is empty"):
        import_file(db, write(tmp_path, " \n"))


def test_nesting_is_bounded(db, tmp_path):
    for depth in (80, 100_000):  # past our bound, and past Python's recursion limit
        raw = json.dumps(doc()).replace('"title": "t"',
                                        '"title": "t", "x": ' + "[" * depth + "]" * depth)
        with pytest.raises(ImportFormatError, match="nested"):
            import_file(db, write(tmp_path, raw))


def test_zip_decompressed_size_is_bounded(db, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(transfer, "MAX_IMPORT_BYTES", 1 << 20)
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("conversations.json", "[" + " " * (4 << 20) + "]")  # a zip bomb
    assert path.stat().st_size < 100_000
    with pytest.raises(ImportFormatError, match="larger than 1 MB"):
        import_file(db, path)
    code = main(["--data-dir", str(tmp_path / "db"), "import", str(path)])
    _, err = capsys.readouterr()
    assert code != 0 and "larger than" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


json_leaf = st.none() | st.booleans() | st.integers(min_value=-2**80, max_value=2**80) \
    | st.floats(allow_nan=False) | st.text(max_size=8) \
    | st.sampled_from(["user", "assistant", "system", "text", "code", "last_n", "streaming",
                       "2024-01-01T00:00:00", "n1", "n2", "default", "model"])
keys = st.sampled_from(["title", "model", "messages", "role", "content", "meta", "name",
                        "status", "token_counts", "created_at", "summaries", "memory", "usage",
                        "profile", "fractions", "strategy", "strategy_settings", "last_n",
                        "examples", "key", "value", "source_message", "first_message",
                        "mapping", "current_node", "parent", "message", "author", "parts",
                        "content_type", "create_time", "metadata", "reply_message",
                        "components", "history", "text", "n1", "n2"]) | st.text(max_size=4)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(sessions=st.lists(json_values, max_size=3), chatgpt=st.lists(
    st.dictionaries(keys, json_values, max_size=6).map(lambda d: {"mapping": {}, **d}),
    min_size=1, max_size=3), which=st.integers(0, 2), other=json_values)
def test_fuzzed_imports_raise_only_import_errors(db, tmp_path, sessions, chatgpt, which, other):
    data = [{"format": "token-budget", "version": 1, "sessions": sessions}, chatgpt,
            other][which]
    path = write(tmp_path, json.dumps(data))
    try:
        import_file(db, path)
    except ImportFormatError as exc:
        assert "\n" not in str(exc)


# --- the plain message, read fast ------------------------------------------------------

moment = st.datetimes(datetime(1900, 1, 2), datetime(2199, 12, 30),
                      timezones=st.none() | st.just(UTC)).map(lambda d: d.isoformat())
plain_meta = st.fixed_dictionaries({}, optional={
    "status": st.none() | st.sampled_from(MESSAGE_STATUSES),
    "pinned": st.none() | st.booleans(), "excluded": st.none() | st.booleans(),
    "created_at": st.none() | moment,
    "prompt_tokens": st.none() | st.integers(0, 2**63 - 1),
    "completion_tokens": st.none() | st.integers(0, 10**6),
    "cost": st.none() | st.floats(allow_nan=False, allow_infinity=False),
    "error": st.none() | st.text(max_size=5),
    "token_counts": st.none() | st.dictionaries(st.text(max_size=5), st.integers(0, 10**6),
                                                max_size=2)})
plain_message = st.fixed_dictionaries(
    {"role": st.sampled_from(ROLES), "content": st.text(max_size=8)},
    optional={"name": st.none() | st.text(max_size=5), "meta": st.none() | plain_meta})


def read_both(item):
    """(the fast reader's message or None, the checked reader's or None when it refuses)."""
    try:
        check_tree(item, "f", "m", 4)
        checked = transfer._parse_message(Fields("f", "m", item))
    except ImportFormatError:
        checked = None
    return transfer._plain_message(item), checked


@settings(max_examples=300, deadline=None)
@given(item=plain_message)
def test_a_plain_message_is_read_fast_and_as_before(item):
    fast, checked = read_both(item)
    assert fast is not None and fast == checked


ODD = [None, 0, 1, -1, 2**63, -2**63 - 1, 2**64, 0.0, 1.5, 10**400, True, False, "", "x",
       "a\ud800b", "\udc00", "tool", "streaming", "0001-01-01T00:00:00",
       "9999-12-31T23:59:59-23:59", "2024-02-30T00:00:00", "2025-03-01T10:00:00+05:00",
       "2025-03-01T10:00:00\udc00", [], [1], {}, {"k": 1}, {"k": 2**64}, {"k": "\udfff"},
       {"\udc00": 1}, {"k": [1]}, {"k": None}]
MESSAGE_KEYS = ["role", "content", "name", "meta", "other"]
META_KEYS = ["status", "pinned", "excluded", "created_at", "prompt_tokens",
             "completion_tokens", "cost", "error", "token_counts", "other"]


def test_a_message_with_an_odd_field_is_read_as_before():
    base = {"role": "user", "content": "hi", "name": "ann", "meta": {
        "status": "complete", "pinned": False, "excluded": False,
        "created_at": "2025-03-01T10:00:00.000000+00:00", "prompt_tokens": 3,
        "completion_tokens": 4, "cost": 0.5, "error": "e", "token_counts": {"o200k_base": 2}}}
    for in_meta, keys in ((False, MESSAGE_KEYS), (True, META_KEYS)):
        for key in keys:
            for value in ODD:
                item = json.loads(json.dumps(base))
                (item["meta"] if in_meta else item)[key] = value
                fast, checked = read_both(item)
                assert fast is None or fast == checked, (in_meta, key, value)


def test_an_export_of_ours_is_read_fast(db):
    session = db.sessions.create(Session(title="t", model="gpt-4o"))
    db.messages.append_many(session.id, [
        Message("user", "hello wörld 👋", name="ann", token_counts={"o200k_base": 3}),
        Message("assistant", "hi", status="error", error="boom", pinned=True, excluded=True,
                prompt_tokens=10, completion_tokens=2, cost=0.5),
        Message("assistant", "", status="streaming")])
    (exported,) = export_document(db, [session.id])["sessions"]
    read = [transfer._plain_message(m) for m in json.loads(json.dumps(exported["messages"]))]
    assert None not in read
    assert [m.content for m in read] == ["hello wörld 👋", "hi", ""]
    assert read[2].status == "interrupted"  # nothing streams into an imported message


def test_only_a_file_is_imported_never_a_device_a_pipe_or_a_folder(db, tmp_path):
    """/dev/zero never ends and a pipe waits for a writer: both are refused at once, in
    one line, as a folder is (before, /dev/zero was read until memory ran out)."""
    import os
    import threading

    fifo = tmp_path / "export.json"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    for path in (fifo, zero, folder):
        outcome: list[BaseException | None] = []

        def run(path=path, outcome=outcome):
            try:
                import_file(db, path)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(10)
        if worker.is_alive():  # waiting on the pipe: let it go, then fail
            with open(fifo, "wb"):
                pass
            worker.join(10)
            pytest.fail(f"importing {path.name} waited for it")
        error = outcome[0]
        assert isinstance(error, ImportFormatError), (path.name, error)
        assert "not a file" in str(error) and "\n" not in str(error)
    assert db.sessions.list() == []


def test_a_required_field_that_is_null_says_so(db, tmp_path):
    """'this field is required' read as if the field were missing from the file."""
    null_role = doc(messages=[{"role": None, "content": "hi"}])
    with pytest.raises(ImportFormatError, match="role: this field is required, and is null"):
        import_file(db, write(tmp_path, null_role))
    no_role = doc(messages=[{"content": "hi"}])
    with pytest.raises(ImportFormatError) as caught:
        import_file(db, write(tmp_path, no_role))
    assert "this field is required" in str(caught.value) and "null" not in str(caught.value)
