"""The controller: the only place that joins core, store and llm. The window talks to
AppController; the turn pipeline (turn.py) is plain Python shared with `token-budget chat`."""
