"""Reading documents for progressive runs (services/documents.py): a real PDF's text,
page by page; an encrypted PDF, a broken one, bytes mangled at random, a text-less PDF,
too many pages or characters: each one DocumentError line, never a crash, never output
of the PDF library's own; and the command line runs a PDF through the loopback server."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.cli import main
from desktop_app.services.documents import (
    Document,
    DocumentError,
    pdf_text,
    read_document,
)
from tests.openai_test_server import openai_server_fixture  # noqa: F401
from tests.pdf_support import make_pdf
from tests.test_progressive import MODEL, WINDOW, Recorder

PAGES = [[f"Page {p} of the report.", f"The code word for section {p} is WORD{p}.",
          "Nothing else (of note) here."] for p in range(1, 4)]
GOOD = make_pdf(PAGES)


def test_a_real_pdf_is_read_page_by_page(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(GOOD)
    doc = read_document(path)
    assert isinstance(doc, Document) and doc.kind == "PDF" and doc.pages == 3
    for p in range(1, 4):
        assert f"The code word for section {p} is WORD{p}." in doc.text
    assert doc.text.index("WORD1") < doc.text.index("WORD2") < doc.text.index("WORD3")
    assert "(of note)" in doc.text
    assert doc.describe().startswith("report.pdf: PDF, 3 pages, ")


def test_a_pdf_without_the_suffix_is_known_by_its_first_bytes(tmp_path):
    path = tmp_path / "download"
    path.write_bytes(GOOD)
    assert read_document(path).kind == "PDF"


def test_text_and_markdown(tmp_path):
    md = tmp_path / "notes.md"
    md.write_text("# Title\n\nSome text.\n", encoding="utf-8")
    assert read_document(md).kind == "Markdown"
    assert read_document(md).text.startswith("# Title")
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x00\x01\x02" * 10)
    with pytest.raises(DocumentError, match="binary"):
        read_document(binary)
    with pytest.raises(DocumentError, match="no such file"):
        read_document(tmp_path / "missing.txt")
    with pytest.raises(DocumentError, match="folder"):
        read_document(tmp_path)


def _encrypted(user: str, owner: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(GOOD)))
    writer.encrypt(user_password=user, owner_password=owner, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_an_encrypted_pdf_is_one_line(tmp_path):
    with pytest.raises(DocumentError, match="encrypted") as caught:
        pdf_text(_encrypted("secret", "owner"), "locked.pdf")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("locked.pdf: ")
    # an owner password alone locks nothing a reader needs: it opens
    text, pages = pdf_text(_encrypted("", "owner"), "open.pdf")
    assert pages == 3 and "WORD2" in text


def test_limits_on_pages_and_characters():
    with pytest.raises(DocumentError, match="more than the 2 read at once"):
        pdf_text(GOOD, "big.pdf", max_pages=2)
    with pytest.raises(DocumentError, match="more than 50 characters"):
        pdf_text(GOOD, "long.pdf", max_chars=50)


def test_a_pdf_without_text_says_so():
    with pytest.raises(DocumentError, match="no text in this PDF"):
        pdf_text(make_pdf([[]]), "scan.pdf")


CORRUPT = [
    b"", b"%PDF-", b"%PDF-1.4\n", b"%PDF-1.7\n%%EOF", b"%PDF-1.4\n1 0 obj\n<<\nendobj\n",
    GOOD[: len(GOOD) // 2], GOOD[:-30], GOOD.replace(b"xref", b"xrex"),
    GOOD.replace(b"/Root 1 0 R", b"/Root 9 0 R"), GOOD.replace(b"/Count 3", b"/Count 99999"),
    GOOD.replace(b"/Kids [", b"/Kids [2 0 R "),  # a page tree that contains itself
    GOOD.replace(b"/Length ", b"/Length 9"), b"%PDF-1.4\n" + b"[" * 50_000,
    b"%PDF-1.4\n" + b"<<" * 20_000, b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 1 0 R >> "
    b"endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    b"%PDF-1.4\n1 0 obj << /Length 10 /Filter /FlateDecode >> stream\nxxxxxxxxxx\n"
    b"endstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
]


@pytest.mark.parametrize("data", CORRUPT, ids=range(len(CORRUPT)))
def test_a_broken_pdf_is_one_line(data, capfd):
    try:
        text, pages = pdf_text(data, "broken.pdf")
    except DocumentError as exc:
        message = str(exc)
        assert message.startswith("broken.pdf: ") and "\n" not in message
    else:  # a repair found pages: then they are text
        assert isinstance(text, str) and pages >= 1
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the library's warnings are not ours to print


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 40), cut=st.floats(0.05, 1.0))
def test_mangled_pdfs_never_crash_the_reader(seed, flips, cut):
    rng = random.Random(seed)
    data = bytearray(GOOD[: max(8, int(len(GOOD) * cut))])
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    try:
        text, pages = pdf_text(bytes(data), "fuzz.pdf")
    except DocumentError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(text, str) and text and pages >= 1


def test_the_command_line_runs_a_pdf(openai_server, tmp_path, capsys):
    recorder = Recorder()
    openai_server.responder = recorder
    filler = "The committee met again and discussed the schedule at some length."
    pdf = tmp_path / "minutes.pdf"
    pdf.write_bytes(make_pdf([[f"Section {p}.", *[filler] * 30, f"The code word is WORD{p}."]
                              for p in range(1, 7)]))
    code = main(["--data-dir", str(tmp_path / "data"), "progressive", str(pdf), "--task",
                 "Find every code word.", "--model", MODEL, "--window", str(WINDOW),
                 "--base-url", openai_server.base_url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == "The code words are " + ", ".join(
        f"WORD{p}" for p in range(1, 7)) + "."
    assert len(recorder.requests) >= 3
    for r in recorder.requests:
        assert r["tokens"] + r["max_tokens"] <= WINDOW


def test_the_command_line_refuses_a_broken_pdf_in_one_line(openai_server, tmp_path, capsys):
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    code = main(["--data-dir", str(tmp_path), "progressive", str(pdf), "--task", "x",
                 "--model", MODEL, "--base-url", openai_server.base_url])
    err = capsys.readouterr().err
    assert code == 2 and "not a readable PDF" in err and len(err.strip().splitlines()) == 1
    assert openai_server.chat_requests() == []
