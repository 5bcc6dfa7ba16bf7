"""The minimum macOS a Mach-O binary declares, read in pure Python so that it runs on any
system: the spec writes the bundle's LSMinimumSystemVersion from it, the release
workflow checks the built .app with it, and CI (Linux) checks the macOS wheels of Qt.

A binary names its minimum in a load command: LC_BUILD_VERSION (`minos`, macOS 10.14+
toolchains) or the older LC_VERSION_MIN_MACOSX. A universal ("fat") file holds one
binary per architecture; its minimum is the newest of theirs. macOS refuses to load a
library whose minimum is newer than the running system, whatever the wheel's tag says.

    python packaging/macho.py PATH...            # files, folders, .app bundles or wheels
    python packaging/macho.py --max 13.0 PATH... # exit 1 if any binary needs a newer macOS
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

Version = tuple[int, int, int]

FAT_MAGIC = 0xCAFEBABE
FAT_MAGIC_64 = 0xCAFEBABF
MH_MAGIC = 0xFEEDFACE
MH_MAGIC_64 = 0xFEEDFACF
LC_VERSION_MIN_MACOSX = 0x24
LC_BUILD_VERSION = 0x32
PLATFORM_MACOS = 1
# Apple's tools cap a fat file at a few dozen slices; Java class files share the magic.
MAX_FAT_ARCHS = 32


def decode(packed: int) -> Version:
    """xxxx.yy.zz packed as 16.8.8 bits."""
    return (packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF)


def dotted(version: Version, parts: int = 2) -> str:
    return ".".join(str(n) for n in version[:parts])


def parse_version(text: str) -> Version:
    numbers = [int(part) for part in text.split(".")]
    return tuple((numbers + [0, 0, 0])[:3])  # type: ignore[return-value]


def _thin_minimum(data: bytes, offset: int) -> Version | None:
    if len(data) < offset + 28:
        return None
    for endian in ("<", ">"):
        (magic,) = struct.unpack_from(endian + "I", data, offset)
        if magic in (MH_MAGIC, MH_MAGIC_64):
            break
    else:
        return None
    header_size = 32 if magic == MH_MAGIC_64 else 28
    ncmds, sizeofcmds = struct.unpack_from(endian + "II", data, offset + 16)
    position = offset + header_size
    end = min(len(data), position + sizeofcmds)
    found: Version | None = None
    for _ in range(ncmds):
        if position + 8 > end:
            break
        cmd, cmdsize = struct.unpack_from(endian + "II", data, position)
        if cmdsize < 8:
            break
        if cmd == LC_BUILD_VERSION and position + 16 <= end:
            platform, minos = struct.unpack_from(endian + "II", data, position + 8)
            if platform == PLATFORM_MACOS:
                found = max(found or (0, 0, 0), decode(minos))
        elif cmd == LC_VERSION_MIN_MACOSX and position + 12 <= end:
            (version,) = struct.unpack_from(endian + "I", data, position + 8)
            found = max(found or (0, 0, 0), decode(version))
        position += cmdsize
    return found


def minimum_macos_of_bytes(data: bytes) -> Version | None:
    """The newest macOS minimum among the file's slices; None if it is not a Mach-O
    file or declares none."""
    if len(data) < 8:
        return None
    (magic,) = struct.unpack_from(">I", data, 0)
    if magic in (FAT_MAGIC, FAT_MAGIC_64):
        (count,) = struct.unpack_from(">I", data, 4)
        if not 0 < count <= MAX_FAT_ARCHS:
            return None
        entry = 32 if magic == FAT_MAGIC_64 else 20
        found: list[Version] = []
        for index in range(count):
            at = 8 + index * entry
            if magic == FAT_MAGIC_64:
                offset = struct.unpack_from(">Q", data, at + 8)[0]
            else:
                offset = struct.unpack_from(">I", data, at + 8)[0]
            version = _thin_minimum(data, offset)
            if version is not None:
                found.append(version)
        return max(found) if found else None
    return _thin_minimum(data, 0)


def _looks_like_macho(head: bytes) -> bool:
    if len(head) < 4:
        return False
    return (struct.unpack(">I", head[:4])[0] in (FAT_MAGIC, FAT_MAGIC_64)
            or struct.unpack("<I", head[:4])[0] in (MH_MAGIC, MH_MAGIC_64)
            or struct.unpack(">I", head[:4])[0] in (MH_MAGIC, MH_MAGIC_64))


def minimum_macos(path: str | os.PathLike[str]) -> Version | None:
    with open(path, "rb") as handle:
        if not _looks_like_macho(handle.read(4)):
            return None
        handle.seek(0)
        return minimum_macos_of_bytes(handle.read())


def scan(path: str | os.PathLike[str]) -> Iterator[tuple[str, Version]]:
    """(name, minimum) for every Mach-O file in a file, a folder (an .app) or a wheel."""
    path = Path(path)
    if path.is_dir():
        for item in sorted(path.rglob("*")):
            if item.is_file() and not item.is_symlink():
                version = minimum_macos(item)
                if version is not None:
                    yield str(item), version
    elif path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            for info in wheel.infolist():
                with wheel.open(info) as member:
                    if not _looks_like_macho(member.read(4)):
                        continue
                data = wheel.read(info)
                version = minimum_macos_of_bytes(data)
                if version is not None:
                    yield f"{path.name}:{info.filename}", version
    else:
        version = minimum_macos(path)
        if version is not None:
            yield str(path), version


def main(argv: list[str] | None = None, out: io.TextIOBase | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--max", help="fail when a binary needs a newer macOS than this")
    args = parser.parse_args(argv)
    found = [entry for path in args.paths for entry in scan(path)]
    if not found:
        print("macho: no Mach-O binaries found", file=out)
        return 1
    newest = max(version for _name, version in found)
    print(f"macho: {len(found)} Mach-O binaries; the newest minimum is macOS {dotted(newest)}",
          file=out)
    if args.max is None:
        return 0
    limit = parse_version(args.max)
    too_new = sorted((v, name) for name, v in found if v > limit)
    for version, name in too_new[-20:]:
        print(f"macho: {name} needs macOS {dotted(version)}", file=out)
    if too_new:
        print(f"macho: FAILED: {len(too_new)} binaries need a newer macOS than {args.max}",
              file=out)
        return 1
    print(f"macho: every binary loads on macOS {args.max}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
