"""Qt-free services shared by the window and the command line: the one builder of the
next request (`request`), the one window resolver (`windows`), the turn with its typed
outcome (`turn`) and the folding of summaries and memory after a reply (`folding`).
They join core, store and llm; the controller adapts them to Qt."""
