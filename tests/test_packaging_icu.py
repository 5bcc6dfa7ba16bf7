"""packaging/trim_icu.py: the Linux bundle's smaller ICU data library still serves
everything Qt asks ICU for (case mapping, collation, time-zone names, codecs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packaging"))
import trim_icu

ROOT = Path(__file__).resolve().parent.parent


def wheel_icu_data() -> Path:
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    return found[0] if found else Path()


ICU = wheel_icu_data()
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt ships ICU on Linux only"),
    pytest.mark.skipif(not ICU.name, reason="this PySide6 wheel carries no libicudata"),
    pytest.mark.skipif(
        not (shutil.which("nm") and (shutil.which("cc") or shutil.which("gcc"))),
        reason="trimming needs binutils and a C compiler (the build keeps the full ICU then)",
    ),
]


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trim_icu.trim(ICU, tmp_path_factory.mktemp("icu"))


def item_names(library: Path) -> list[str]:
    _, offset, size = trim_icu.data_symbol(library)
    _, items = trim_icu.read_package(library.read_bytes()[offset : offset + size])
    return [name for name, _ in items]


def test_trimming_drops_what_qt_never_reads_and_keeps_what_it_does(trimmed: Path) -> None:
    before, after = item_names(ICU), item_names(trimmed)
    assert trimmed.stat().st_size < 0.7 * ICU.stat().st_size
    assert after == [name for name in before if not trim_icu.is_dropped(name)]
    tree = before[0].split("/")[0]  # e.g. icudt73l
    for needed in ("coll/root.res", "coll/sv.res", "zone/en.res", "metaZones.res",
                   "zoneinfo64.res", "cnvalias.icu", "root.res"):
        assert f"{tree}/{needed}" in after
    assert not any(name.split("/")[1] in trim_icu.DROPPED_TREES for name in after)


def test_qt_text_services_work_on_the_trimmed_library(trimmed: Path) -> None:
    """Qt loads the trimmed library in place of the wheel's (same soname, preloaded) and
    the self-test's text check passes on it."""
    probe = (
        "from desktop_app.commands.selftest import check_text_services\n"
        "print(check_text_services())\n"
        "maps = open('/proc/self/maps').read()\n"
        f"assert {str(trimmed)!r} in maps and {str(ICU)!r} not in maps, 'wrong ICU loaded'\n"
    )
    env = dict(os.environ, LD_PRELOAD=str(trimmed), QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "collation, time-zone names and case mapping work" in result.stdout
