"""The budget engine: pure Python, no Qt, no SQL, no network."""
