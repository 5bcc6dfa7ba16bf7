"""Child process for tests/test_store_crash.py and tests/test_store_database.py: works on
a database until it is killed (or done), printing a line after each step has returned,
so the parent knows what must have survived.

    python tests/store_crash_child.py DATA_DIR append SESSION_ID [COUNT]
    python tests/store_crash_child.py DATA_DIR stream SESSION_ID
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.core.records import Message
from desktop_app.store import open_database


def main() -> None:
    data_dir, mode, session_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
    count = int(sys.argv[4]) if len(sys.argv) > 4 else None
    db = open_database(data_dir)
    print("ready", flush=True)
    if mode == "append":
        i = 0
        while count is None or i < count:
            message = db.messages.append(
                session_id, Message("user", f"child {i} " + "x" * (i % 300))
            )
            print(message.id, flush=True)
            i += 1
    elif mode == "stream":
        writer = db.messages.begin_stream(session_id)
        print(f"stream {writer.message_id}", flush=True)
        while True:
            if writer.append("chunk "):
                print(f"flushed {writer.flushed_length}", flush=True)
            time.sleep(0.002)
    db.close()


if __name__ == "__main__":
    main()
