"""The main window rendered with a sample session, saved as a PNG for people to look at
(in $TOKEN_BUDGET_TEST_ARTIFACTS, else a temporary folder: see tests/conftest.py), and,
with TB_UPDATE_SCREENSHOT=1, as the README's screenshot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from desktop_app.core.providers import ProviderConfig
from desktop_app.core.records import MemoryFact, Message
from desktop_app.store import open_database
from tests.ui_support import open_window, seed_session, wait_idle

ROOT = Path(__file__).resolve().parents[1]
README_SHOT = ROOT / "resources" / "screenshots" / "main_window.png"

SAMPLE = [
    ("user", "I'm planning three days in Lisbon in May. My budget is 900 euros, trains only."),
    ("assistant", ("Good plan. Lisbon is compact, and the trains to **Sintra** and **Cascais** "
                  "leave from the centre. Do you prefer museums or walking?")),
    ("user", "Walking, mostly. And I love pastries."),
    ("assistant", ("Then base yourself in *Baixa*: flat, central, and ten minutes from the "
                  "best pastelarias.")),
    ("user", "Can you sketch day one?"),
    ("assistant", ("**Day 1: Alfama and the castle**\n\n"
                  "- Morning: São Jorge castle, then down through Alfama\n"
                  "- Lunch: grilled sardines near the Sé\n"
                  "- Afternoon: tram 28 to Estrela, pastel de nata at Manteigaria\n\n"
                  "Budget so far:\n\n```python\nday_one = 15 + 18 + 3 + 1.5  # castle, lunch, "
                  "tram, nata\nprint(f\"{day_one:.2f} EUR\")\n```")),
    ("user", "And the train to Sintra, how long does it take?"),
    ("assistant", ("About **40 minutes** from Rossio, every 20 minutes; a return ticket is "
                  "4.70 EUR. Go early: Pena Palace fills up by ten.")),
]


def seed_sample(data_dir: Path) -> int:
    messages = [Message(role, text) for role, text in SAMPLE]
    messages[0].pinned = True  # the budget and the rule: always sent
    sid = seed_session(data_dir, "Three days in Lisbon", messages, model="gpt-4o-mini")
    seed_session(data_dir, "Refactoring the parser", [("user", "Where do we start?")])
    seed_session(data_dir, "Cover letter draft", [("user", "Make it shorter.")])
    db = open_database(data_dir)
    try:
        db.memory.upsert(MemoryFact("budget", "900 EUR for three days", session_id=sid))
        db.memory.upsert(MemoryFact("travel", "trains only, walks a lot", session_id=sid))
        db.providers.save(ProviderConfig(name="openai", base_url="https://api.openai.com/v1",
                                         preset="openai"))
        db.settings.set("default_provider", "openai")
        db.settings.set("last_session", sid)
    finally:
        db.close()
    return sid


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_main_window_screenshot(qtbot, data_dir, artifacts_dir, theme):
    seed_sample(data_dir)
    window = open_window(qtbot, data_dir, theme=theme, size=(1440, 900))
    window.composer.set_text("Which day is best for Cascais if it rains on Saturday?")
    wait_idle(qtbot, window)
    qtbot.wait(200)  # let the gauge's animation settle

    assert window.controller.session.title == "Three days in Lisbon"
    assert window.conversation.conversation.rowCount() == len(SAMPLE)
    assert window.gauge.report().components["memory"].used > 0
    states = {window.conversation.conversation.state_of(m)[0]
              for m in window.conversation.conversation.messages}
    assert states == {"pinned", "kept"}

    image = window.grab().toImage()
    assert image.width() >= 1440 and image.height() >= 900
    colors = {image.pixel(x, y) for x in range(0, image.width(), 37)
              for y in range(0, image.height(), 37)}
    assert len(colors) > 20  # a painted window, not a blank one

    name = "main_window.png" if theme == "light" else f"main_window_{theme}.png"
    assert image.save(str(artifacts_dir / name))
    if theme == "light" and os.environ.get("TB_UPDATE_SCREENSHOT") == "1":
        README_SHOT.parent.mkdir(parents=True, exist_ok=True)
        assert image.save(str(README_SHOT))
    window.close()
