"""Trim the ICU data library that Qt's Linux wheels ship (libicudata.so.NN, 32 MB).

Qt calls ICU for four things only: case mapping (u_strToUpper/Lower), calendars and
time-zone names (ucal_*), legacy text codecs (ucnv_*) and collation (ucol_*); see
`nm -D --undefined-only libQt6Core.so.6 | grep _NN`. The data library also carries
break-iterator dictionaries, unit, currency and language display names, transliterators,
spelled-out number rules and character names, which nothing in the app can reach. This
script keeps the ICU common-data package, drops those items (about 15 MB) and links a
new libicudata.so.NN exporting the same `icudtNN_dat` symbol.

It needs `nm` and a C compiler (binutils and gcc, present on the build machines); when
either is missing the original library is kept and the build says so.

    python packaging/trim_icu.py SRC_LIBICUDATA OUT_DIR     # prints the new library
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

# Item names are like "icudt73l/brkitr/word.brk" or "icudt73l/unames.icu".
DROPPED_TREES = ("brkitr", "unit", "curr", "lang", "rbnf", "translit")
DROPPED_FILES = ("unames.icu", "confusables.cfu", "uts46.nrm", "ulayout.icu", "uemoji.icu")
DROPPED_SUFFIXES = (".spp",)  # stringprep profiles (IDNA, LDAP, XMPP): Qt has its own IDNA
ALIGN = 16


class TrimError(RuntimeError):
    pass


def is_dropped(name: str) -> bool:
    parts = name.split("/")
    if len(parts) > 2:
        return parts[1] in DROPPED_TREES
    return parts[-1] in DROPPED_FILES or parts[-1].endswith(DROPPED_SUFFIXES)


def read_package(data: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Splits an ICU common-data package ("CmnD", offset table of contents) into its
    header and its (name, item) pairs, in their (sorted) order."""
    header_size, magic1, magic2 = struct.unpack_from("<HBB", data, 0)
    if (magic1, magic2) != (0xDA, 0x27) or data[12:16] != b"CmnD" or data[8] != 0:
        raise TrimError("not a little-endian ICU common data package")
    toc = data[header_size:]
    (count,) = struct.unpack_from("<I", toc, 0)
    entries = [struct.unpack_from("<II", toc, 4 + 8 * i) for i in range(count)]
    items = []
    for i, (name_offset, data_offset) in enumerate(entries):
        name = toc[name_offset : toc.index(b"\0", name_offset)].decode("ascii")
        end = entries[i + 1][1] if i + 1 < count else len(toc)
        items.append((name, toc[data_offset:end]))
    return data[:header_size], items


def write_package(header: bytes, items: list[tuple[str, bytes]]) -> bytes:
    """The inverse of read_package; offsets are relative to the table of contents."""
    names = bytearray()
    name_offsets = []
    toc_size = 4 + 8 * len(items)
    for name, _ in items:
        name_offsets.append(toc_size + len(names))
        names.extend(name.encode("ascii") + b"\0")
    body = bytearray(names)
    body.extend(b"\0" * (-(toc_size + len(body)) % ALIGN))  # items start aligned
    data_offsets = []
    for _, item in items:
        data_offsets.append(toc_size + len(body))
        body.extend(item)
        body.extend(b"\0" * (-(toc_size + len(body)) % ALIGN))
    toc = bytearray(struct.pack("<I", len(items)))
    for name_offset, data_offset in zip(name_offsets, data_offsets, strict=True):
        toc.extend(struct.pack("<II", name_offset, data_offset))
    return header + bytes(toc) + bytes(body)


def data_symbol(library: Path) -> tuple[str, int, int]:
    """(name, file offset, size) of the icudtNN_dat symbol, via nm and the ELF header."""
    out = subprocess.run(
        ["nm", "-D", "-S", "--defined-only", str(library)],
        check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[3].startswith("icudt") and fields[3].endswith("_dat"):
            address, size = int(fields[0], 16), int(fields[1], 16)
            return fields[3], _file_offset(library.read_bytes(), address), size
    raise TrimError(f"no icudtNN_dat symbol in {library}")


def _file_offset(elf: bytes, address: int) -> int:
    """Maps a virtual address to a file offset through the PT_LOAD segments (ELF64 LE)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise TrimError("expected a 64-bit little-endian ELF library")
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + i * phentsize
        )
        if p_type == 1 and p_vaddr <= address < p_vaddr + p_filesz:
            return p_offset + (address - p_vaddr)
    raise TrimError(f"address {address:#x} is in no loaded segment")


def link_library(symbol: str, package: Path, soname: str, out: Path) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise TrimError("no C compiler (cc) to link the trimmed library")
    source = out.with_suffix(".S")
    source.write_text(
        "\t.section .rodata\n"
        f"\t.globl {symbol}\n"
        f"\t.type {symbol}, @object\n"
        f"\t.balign {ALIGN}\n"
        f"{symbol}:\n"
        f'\t.incbin "{package}"\n'
        f"\t.size {symbol}, . - {symbol}\n"
        '\t.section .note.GNU-stack,"",@progbits\n',
        encoding="ascii",
    )
    subprocess.run(
        [compiler, "-shared", "-nostdlib", f"-Wl,-soname,{soname}", "-o", str(out), str(source)],
        check=True,
    )


def trim(library: Path, out_dir: Path) -> Path:
    """Writes the trimmed library into out_dir (same file name) and returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    symbol, offset, size = data_symbol(library)
    raw = library.read_bytes()[offset : offset + size]
    header, items = read_package(raw)
    kept = [(name, item) for name, item in items if not is_dropped(name)]
    package = out_dir / f"{symbol}.dat"
    package.write_bytes(write_package(header, kept))
    out = out_dir / library.name
    link_library(symbol, package, library.name, out)
    check = read_package(out.read_bytes()[slice(*_span(out))])[1]
    if [name for name, _ in check] != [name for name, _ in kept]:
        raise TrimError("the trimmed library does not read back")
    return out


def _span(library: Path) -> tuple[int, int]:
    _, offset, size = data_symbol(library)
    return offset, offset + size


def trim_or_keep(library: Path, out_dir: Path) -> Path:
    """The trimmed library, or the original one with a message saying why not."""
    try:
        trimmed = trim(library, out_dir)
    except (OSError, subprocess.CalledProcessError, TrimError) as exc:
        print(f"trim_icu: keeping the full {library.name} ({exc})", file=sys.stderr)
        return library
    before, after = library.stat().st_size, trimmed.stat().st_size
    print(f"trim_icu: {library.name} {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return trimmed


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(trim_or_keep(Path(sys.argv[1]), Path(sys.argv[2])))
