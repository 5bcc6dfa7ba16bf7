"""Notarize a disk image and judge Apple's answer by what it says, not by an exit status.

`xcrun notarytool submit --wait` exits 0 when the wait ends, whatever the verdict: an
"Invalid" (rejected) submission looks like success. Here the status JSON is read; only
"Accepted" passes. Any other verdict fetches Apple's log for the submission (it names
each binary that failed and why), prints it and exits 1.

    python packaging/macos/notarize.py FILE.dmg   # APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD

Run by packaging/macos/build_dmg.sh; macOS only (xcrun).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

ACCEPTED = "Accepted"


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    submission_id: str | None
    status: str
    message: str


def judge(output: str) -> Verdict:
    """Reads `notarytool submit --wait --output-format json` (or `notarytool info`)."""
    try:
        data = json.loads(output)
    except json.JSONDecodeError:
        return Verdict(False, None, "unreadable", f"notarytool did not answer in JSON: {output!r}")
    if not isinstance(data, dict):
        return Verdict(False, None, "unreadable", f"unexpected notarytool answer: {output!r}")
    status = str(data.get("status") or "unknown")
    submission = data.get("id")
    message = str(data.get("message") or "")
    return Verdict(status == ACCEPTED, str(submission) if submission else None, status, message)


def credentials() -> list[str]:
    names = ("APPLE_ID", "APPLE_TEAM_ID", "APPLE_APP_PASSWORD")
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"notarize: {', '.join(missing)} not set")
    return ["--apple-id", os.environ["APPLE_ID"], "--team-id", os.environ["APPLE_TEAM_ID"],
            "--password", os.environ["APPLE_APP_PASSWORD"]]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    auth = credentials()
    submit = subprocess.run(
        ["xcrun", "notarytool", "submit", argv[0], *auth, "--wait", "--output-format", "json"],
        capture_output=True, text=True, check=False,
    )
    sys.stderr.write(submit.stderr)
    verdict = judge(submit.stdout)
    print(f"notarize: {argv[0]}: {verdict.status} (submission {verdict.submission_id}, "
          f"notarytool exit {submit.returncode}) {verdict.message}".rstrip())
    if verdict.accepted and submit.returncode == 0:
        return 0
    if verdict.submission_id:
        log = subprocess.run(
            ["xcrun", "notarytool", "log", verdict.submission_id, *auth],
            capture_output=True, text=True, check=False,
        )
        print(f"notarize: Apple's log for {verdict.submission_id}:")
        print(log.stdout or log.stderr)
    print(f"notarize: FAILED: Apple did not accept {argv[0]} ({verdict.status})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
