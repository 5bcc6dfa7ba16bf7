"""The app's version, read from pyproject.toml: the one place it is written, and what
each platform's installer accepts, derived from it here and nowhere else. The spec, the
Inno Setup build (packaging/windows/build.ps1), the macOS dmg script and the release
workflow all ask here.

    python packaging/version.py            # the PEP 440 version, e.g. 0.2.0rc1
    python packaging/version.py windows    # four numbers for Windows version info
    python packaging/version.py macos-short  # CFBundleShortVersionString
    python packaging/version.py macos-build  # CFBundleVersion
    python packaging/version.py 1.0.0.post1 windows   # any version, for checking

Windows version info (VERSIONINFO, Inno Setup's VersionInfoVersion) takes exactly four
numbers of 0..65535; macOS takes one to three integers in CFBundleShortVersionString
(what Finder shows) and CFBundleVersion (what Launch Services compares). PEP 440 allows
letters, so a pre- or post-release is folded into a build number that keeps the order:

    X.Y.Z.devN < X.Y.ZaN < X.Y.ZbN < X.Y.ZrcN < X.Y.Z < X.Y.Z.postN
    build = 0 + N,  10000 + N, 20000 + N, 30000 + N,  40000,  40000 + N

Windows: X.Y.Z.build; macOS: CFBundleShortVersionString X.Y.Z and CFBundleVersion
X.Y.(Z * 100000 + build). The full PEP 440 text stays where free text is allowed (Inno
Setup's AppVersion, the version resource's strings, the file names).
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

# PEP 440's public versions (no epoch, no local part: neither belongs on a release).
_PEP440 = re.compile(
    r"""^v?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?:[-_.]?(?P<pre_kind>a|alpha|b|beta|rc|c|pre|preview)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?dev[-_.]?(?P<dev_n>[0-9]+)?)?
    $""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE_KINDS = {"a": "a", "alpha": "a", "b": "b", "beta": "b", "rc": "rc", "c": "rc",
              "pre": "rc", "preview": "rc"}
_PRE_BASE = {"a": 10000, "b": 20000, "rc": 30000}
FINAL = 40000
STEP_LIMIT = 9999  # the N of aN, rcN, .postN, .devN
WINDOWS_PART_MAX = 65535


class VersionError(ValueError):
    """A version no platform scheme here can express."""


@dataclass(frozen=True)
class PlatformVersions:
    pep440: str  # as written in pyproject.toml
    release: tuple[int, int, int]
    build: int  # orders dev < a < b < rc < final < post within one release

    @property
    def windows(self) -> str:
        return ".".join(str(n) for n in (*self.release, self.build))

    @property
    def macos_short(self) -> str:
        return ".".join(str(n) for n in self.release)

    @property
    def macos_build(self) -> str:
        major, minor, micro = self.release
        return f"{major}.{minor}.{micro * 100000 + self.build}"


def platform_versions(version: str) -> PlatformVersions:
    match = _PEP440.match(version.strip())
    if not match:
        raise VersionError(f"{version!r} is not a PEP 440 public version (no epoch, no +local)")
    release = [int(part) for part in match["release"].split(".")]
    if len(release) > 3:
        raise VersionError(f"{version!r}: at most three release numbers (X.Y.Z) are supported")
    major, minor, micro = (release + [0, 0])[:3]
    pre_kind = match["pre_kind"]
    post = match["post_n1"] or match["post_n2"]
    is_post = match["post"] is not None
    dev = match["dev_n"]
    is_dev = match["dev"] is not None
    kinds = [bool(pre_kind), is_post, is_dev]
    if sum(kinds) > 1:
        raise VersionError(
            f"{version!r}: combine at most one of a/b/rc, .post and .dev for a release build"
        )
    number = int(pre_kind and match["pre_n"] or post or dev or 0)
    if number > STEP_LIMIT:
        raise VersionError(f"{version!r}: the pre/post/dev number must be {STEP_LIMIT} or less")
    if pre_kind:
        build = _PRE_BASE[_PRE_KINDS[pre_kind.lower()]] + number
    elif is_post:
        if number == 0:
            raise VersionError(f"{version!r}: number the post-release (.post1, .post2, ...)")
        build = FINAL + number
    elif is_dev:
        build = number
    else:
        build = FINAL
    if max(major, minor, micro) > WINDOWS_PART_MAX:
        raise VersionError(f"{version!r}: Windows allows release numbers up to {WINDOWS_PART_MAX}")
    return PlatformVersions(version.strip(), (major, minor, micro), build)


def project_version() -> str:
    with PYPROJECT.open("rb") as handle:
        return tomllib.load(handle)["project"]["version"]


FORMATS = {
    "pep440": lambda v: v.pep440,
    "windows": lambda v: v.windows,
    "macos-short": lambda v: v.macos_short,
    "macos-build": lambda v: v.macos_build,
}


def main(argv: list[str]) -> int:
    version = project_version()
    if argv and argv[0] not in FORMATS:
        version, argv = argv[0], argv[1:]
    fmt = argv[0] if argv else "pep440"
    if fmt not in FORMATS or len(argv) > 1:
        print(f"usage: version.py [VERSION] [{'|'.join(FORMATS)}]", file=sys.stderr)
        return 2
    try:
        print(FORMATS[fmt](platform_versions(version)))
    except VersionError as exc:
        print(f"version.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
