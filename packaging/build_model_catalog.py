"""Rebuild resources/models.json from LiteLLM's community list of models.

    python packaging/build_model_catalog.py                  # the newest litellm on PyPI
    python packaging/build_model_catalog.py --litellm 1.110.2
    python packaging/build_model_catalog.py --source model_prices_and_context_window_backup.json

Without --source it runs `pip download litellm --no-deps` into a temporary folder and
reads `litellm/model_prices_and_context_window_backup.json` and the licence out of the
wheel (a zip); litellm is never installed and is not a dependency of the app. The
catalog records the litellm version and the file's SHA-256 in its "source" header, and
the licence goes to resources/LICENSE-litellm (MIT).

What is taken, and how windows and prices are read: desktop_app/core/catalog_source.py.
Entries of the current catalog that the source lacks (the local models, kept by hand
here, and retired cloud models) are kept as they are.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.core.catalog_source import (  # noqa: E402
    SOURCE_FILE,
    build_catalog,
    write_catalog,
)

DEFAULT_OUTPUT = ROOT / "resources" / "models.json"
LICENCE = ROOT / "resources" / "LICENSE-litellm"


def fetch_litellm(folder: Path, version: str | None) -> tuple[Path, str, bytes | None]:
    """Download litellm's wheel (no dependencies) and take its JSON and licence out.
    Returns the JSON's path, the version and the licence text."""
    requirement = f"litellm=={version}" if version else "litellm"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", requirement, "--no-deps",
         "--only-binary=:all:", "--quiet", "--dest", str(folder)],
        check=True,
    )
    wheels = sorted(folder.glob("litellm-*.whl"))
    if not wheels:
        raise SystemExit(f"pip downloaded no litellm wheel into {folder}")
    wheel = wheels[-1]
    found = re.match(r"litellm-([^-]+)-", wheel.name)
    wheel_version = found.group(1) if found else "unknown"
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(f"litellm/{SOURCE_FILE}")
        licences = [n for n in zf.namelist()
                    if re.search(r"\.dist-info/(licenses/)?LICEN[CS]E[^/]*$", n)]
        licence = zf.read(licences[0]) if licences else None
    path = folder / SOURCE_FILE
    path.write_bytes(data)
    return path, wheel_version, licence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path,
                        help=f"LiteLLM's {SOURCE_FILE} (default: from the litellm wheel)")
    parser.add_argument("--litellm", metavar="VERSION",
                        help="the litellm version to download, or the version --source "
                        "came from (recorded in the catalog)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="the catalog to write (default: resources/models.json)")
    parser.add_argument("--previous", type=Path,
                        help="the catalog whose entries the source lacks are kept "
                        "(default: --output)")
    args = parser.parse_args(argv)
    previous_path = args.previous or args.output
    previous = (json.loads(previous_path.read_text(encoding="utf-8"))
                if previous_path.exists() else None)
    before = len(previous["models"]) if previous else 0
    with tempfile.TemporaryDirectory(prefix="litellm-") as tmp:
        licence: bytes | None = None
        if args.source:
            source, version = args.source, args.litellm or "unknown"
        else:
            source, version, licence = fetch_litellm(Path(tmp), args.litellm)
        doc = build_catalog(source, previous, litellm_version=version)
    write_catalog(doc, args.output)
    if licence is not None:
        LICENCE.write_bytes(licence)
    models = doc["models"]
    kept = sum(1 for m in models if m.get("source") == "hand")
    print(f"{args.output}: {len(models)} models ({len(models) - kept} from litellm "
          f"{version}, {kept} kept by hand; {before} before), source sha256 "
          f"{doc['source']['sha256']}")
    if licence is not None:
        print(f"{LICENCE}: LiteLLM's licence")
    return 0


if __name__ == "__main__":
    sys.exit(main())
