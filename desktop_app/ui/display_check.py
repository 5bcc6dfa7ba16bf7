"""Before the window starts: is there a display, and can Qt's X11 platform plugin load?

Without them Qt aborts the process (exit 134) with a message that names the wrong thing
(it lists every plugin it has, and blames libxcb-cursor when libxcb-icccm is missing).
This check runs first, without loading Qt, and says in one line what is missing and,
on Debian or Ubuntu, which packages to install. Pure Python: it reads the plugin's ELF
header for the libraries it links and asks the dynamic loader for each."""

from __future__ import annotations

import ctypes
import os
import re
import struct
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

# The system libraries Qt 6's xcb platform plugin (libqxcb.so and libQt6XcbQpa.so.6)
# and the Qt libraries of the window link, with the Debian/Ubuntu package of each. The
# files themselves are read when they can be (plugin_libraries), so a newer Qt that needs
# more is still checked; this table gives the packages, and is the list when they cannot.
XCB_PACKAGES: Mapping[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
}
# What Qt ships beside the plugin (not the system's to provide)
_SHIPPED = re.compile(r"^lib(?:Qt6|icu|pyside6|shiboken6)")
# The X11 plugin and the Qt libraries the window loads (their system libraries too)
_WINDOW_FILES = (("plugins", "platforms", "libqxcb.so"), ("lib", "libQt6XcbQpa.so.6"),
                 ("lib", "libQt6Gui.so.6"), ("lib", "libQt6Widgets.so.6"),
                 ("lib", "libQt6DBus.so.6"))
# Platforms that need no display of their own
_HEADLESS = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs",
                       "vkkhrdisplay"})


def elf_needed(path: Path) -> list[str] | None:
    """The DT_NEEDED libraries of a 64-bit little-endian ELF file (what `ldd` starts from),
    or None when the file is missing or not one."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:  # ELFCLASS64, ELFDATA2LSB
        return None
    try:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                    for i in range(shnum)]
        for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
            if kind != 6:  # SHT_DYNAMIC
                continue
            strings = sections[link][4]
            needed = []
            for at in range(offset, offset + size, entsize or 16):
                tag, value = struct.unpack_from("<qQ", data, at)
                if tag == 0:  # DT_NULL
                    break
                if tag == 1:  # DT_NEEDED
                    end = data.index(b"\0", strings + value)
                    needed.append(data[strings + value : end].decode("utf-8", "replace"))
            return needed
    except (struct.error, IndexError, ValueError):
        return None
    return []


def qt_folder() -> Path | None:
    """PySide6's Qt folder (plugins/ and lib/), found without loading Qt."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def plugin_libraries(qt: Path | None = None) -> list[str]:
    """The system libraries the xcb plugin and the window's Qt libraries link (read from
    their files), or the table's when they cannot be read."""
    qt = qt if qt is not None else qt_folder()
    found: dict[str, None] = {}
    for parts in _WINDOW_FILES:
        needed = elf_needed(qt.joinpath(*parts)) if qt is not None else None
        for name in needed or ():
            if not _SHIPPED.match(name) and not name.startswith(("libc.", "libm.", "libstdc++",
                                                                 "libgcc_s", "libpthread",
                                                                 "libdl.", "librt.", "ld-")):
                found.setdefault(name, None)
    return list(found) or list(XCB_PACKAGES)


def missing_libraries(names: Iterable[str]) -> list[str]:
    """The libraries among `names` the dynamic loader cannot load; when one loads no
    further because a library it needs is missing, that one is named instead."""
    missing: dict[str, None] = {}
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError as exc:
            m = re.match(r"\s*([^:\s]+\.so[.\d]*): cannot open", str(exc))
            missing.setdefault(m[1] if m else name, None)
    return list(missing)


def packages_for(libraries: Iterable[str]) -> list[str]:
    """Debian/Ubuntu packages for these libraries (a library we do not know stays as it
    is, so the line still says what is missing)."""
    return list(dict.fromkeys(XCB_PACKAGES.get(name, name) for name in libraries))


def display_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                    libraries: Iterable[str] | None = None) -> str | None:
    """One line saying why the window cannot open here, or None when it can (as far as
    can be told before Qt starts). Only Linux and other X11 systems are checked, for the
    `libraries` the X11 platform needs (default: plugin_libraries())."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform in ("win32", "darwin", "cygwin"):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "").split(":", 1)[0].split(";", 1)[0].strip()
    if chosen in _HEADLESS:
        return None
    display, wayland = environ.get("DISPLAY"), environ.get("WAYLAND_DISPLAY")
    if chosen == "wayland":
        return None if wayland else (
            "no Wayland display to open the window on (WAYLAND_DISPLAY is not set): run "
            "token-budget inside a desktop session, or use its commands (token-budget --help)")
    if chosen == "xcb" and not display:
        return ("no X11 display to open the window on (DISPLAY is not set, and "
                "QT_QPA_PLATFORM asks for xcb): run token-budget inside a desktop session")
    if not display and not wayland:
        return ("no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is "
                "set): run token-budget inside a desktop session, or use its commands "
                "(token-budget --help); QT_QPA_PLATFORM=offscreen draws without one")
    if chosen != "xcb" and wayland:
        return None  # a Wayland session: Qt uses its Wayland plugin
    missing = missing_libraries(plugin_libraries() if libraries is None else libraries)
    if not missing:
        return None
    return (f"the window needs system libraries that are missing ({', '.join(missing)}); on "
            f"Debian or Ubuntu: sudo apt-get install {' '.join(packages_for(missing))}")
