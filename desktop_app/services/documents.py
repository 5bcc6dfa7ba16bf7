"""Reading a document for a progressive run: text, Markdown or PDF, bounded. A text file
is read as UTF-8 (at most MAX_DOCUMENT_BYTES); a PDF's text is extracted page by page
with pypdf (at most MAX_PDF_PAGES pages and MAX_DOCUMENT_CHARS characters). Whatever is
wrong with a file (missing, too large, binary, encrypted, broken) is one DocumentError
line; nothing a file holds can crash the reader. Plain Python, no Qt: the window and the
command line read documents the same way."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.files import (
    MAX_FILE_BYTES,
    FileReadError,
    decode_text,
    read_bytes,
)

MAX_DOCUMENT_BYTES = MAX_FILE_BYTES  # the command line's bound on any input
MAX_PDF_PAGES = 2000
MAX_DOCUMENT_CHARS = 16_000_000  # about 4 million tokens: far past what a run takes
PDF_MAGIC = b"%PDF-"
TEXT_SUFFIXES = {".md": "Markdown", ".markdown": "Markdown"}


class DocumentError(Exception):
    """A document that cannot be read; the message says why, in one line."""


@dataclass(frozen=True)
class Document:
    path: str
    text: str
    kind: str  # "Text", "Markdown" or "PDF"
    pages: int | None = None  # a PDF's

    @property
    def name(self) -> str:
        return Path(self.path).name

    def describe(self) -> str:
        """e.g. "report.pdf: PDF, 12 pages, 48,211 characters"."""
        pages = f", {self.pages:,} page{'s' if self.pages != 1 else ''}" if self.pages else ""
        return f"{self.name}: {self.kind}{pages}, {len(self.text):,} characters"


def is_pdf(path: str | Path, head: bytes = b"") -> bool:
    return str(path).lower().endswith(".pdf") or head.startswith(PDF_MAGIC)


def read_document(path: str | Path) -> Document:
    """The document at `path`, its text extracted; DocumentError when it cannot be read."""
    name = str(path)
    data = _read_bytes(Path(path), name)
    if is_pdf(name, data[:8]):
        text, pages = pdf_text(data, name)
        return Document(name, text, "PDF", pages)
    return Document(name, _decode(data, name), TEXT_SUFFIXES.get(Path(name).suffix.lower(),
                                                                  "Text"))


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        return read_bytes(path, name, MAX_DOCUMENT_BYTES)
    except FileReadError as exc:
        raise DocumentError(str(exc) + ("; use a part of it" if exc.too_large else "")
                            ) from None


def _decode(data: bytes, name: str) -> str:
    try:
        text = decode_text(data, name, "text or PDF")
    except FileReadError as exc:
        raise DocumentError(str(exc)) from None
    if len(text) > MAX_DOCUMENT_CHARS:
        raise DocumentError(f"{name}: more than {MAX_DOCUMENT_CHARS:,} characters; use a "
                            "part of it")
    return text


def pdf_text(data: bytes, name: str = "the PDF", *, max_pages: int = MAX_PDF_PAGES,
             max_chars: int = MAX_DOCUMENT_CHARS) -> tuple[str, int]:
    """The text of a PDF's pages (pages apart by a blank line) and its page count.
    Encrypted, broken or text-less PDFs, and any failure of the reader, are one
    DocumentError line."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repairs are not our output
    try:
        from pypdf import PdfReader
    except ImportError:
        raise DocumentError(f"{name}: PDF needs the pypdf package (pip install pypdf)"
                            ) from None
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not _unlocked(reader):
            raise DocumentError(f"{name}: the PDF is encrypted (password-protected); "
                                "save an unprotected copy and open that")
        count = len(reader.pages)
        if count > max_pages:
            raise DocumentError(f"{name}: {count:,} pages, more than the {max_pages:,} read "
                                "at once; split the PDF and open a part")
        texts: list[str] = []
        total = 0
        for page in reader.pages:
            text = _clean(page.extract_text() or "")
            total += len(text) + 2
            if total > max_chars:
                raise DocumentError(f"{name}: more than {max_chars:,} characters of text; "
                                    "split the PDF and open a part")
            texts.append(text)
    except DocumentError:
        raise
    except RecursionError:
        raise DocumentError(f"{name}: not a readable PDF (nested too deeply)") from None
    except MemoryError:
        raise DocumentError(f"{name}: not a readable PDF (too large to unpack)") from None
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on a broken file
        raise DocumentError(f"{name}: not a readable PDF ({_reason(exc)})") from None
    text = "\n\n".join(t.strip("\n") for t in texts).strip()
    if not text:
        raise DocumentError(f"{name}: no text in this PDF (a scanned PDF needs text "
                            "recognition first)")
    return text, count


def _unlocked(reader: object) -> bool:
    """An encrypted PDF that opens with the empty password (an owner password only)."""
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - an unknown cipher, a missing crypto library
        return False


def _clean(text: str) -> str:
    """No NULs, no lone surrogates: text every counter and JSON file takes."""
    text = text.replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


def _reason(exc: BaseException) -> str:
    said = " ".join(str(exc).split())
    said = said[:120] + "…" if len(said) > 120 else said
    return said or type(exc).__name__
