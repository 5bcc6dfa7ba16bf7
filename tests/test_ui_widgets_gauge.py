"""The budget gauge as a user sees it: an over-budget component turns red (in its
computed state and in the painted pixels), tooltips and legend carry the numbers, the
headline says which window the budget is made against and where its size comes from,
and the bar animates to the new state, retargeting when the report changes mid-way."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPalette, QTextDocument
from PySide6.QtWidgets import QApplication, QToolTip

from desktop_app.core.budget import COMPONENTS, builtin_profile, make_report, plan_budget
from desktop_app.services.windows import ResolvedWindow, WindowSource
from desktop_app.ui.figures import format_cost
from desktop_app.ui.gauge import BudgetGauge
from desktop_app.ui.palette import GAUGE_ORDER, component_color, warning_color

WINDOW = 128_000


def save_shot(widget, name: str, folder: Path) -> None:
    widget.grab().save(str(folder / name))


def dark_palette() -> QPalette:
    p = QPalette()
    for role, color in ((QPalette.ColorRole.Window, "#1f2226"),
                        (QPalette.ColorRole.WindowText, "#e6e6e6"),
                        (QPalette.ColorRole.Base, "#15171a"),
                        (QPalette.ColorRole.Text, "#e6e6e6")):
        p.setColor(role, QColor(color))
    return p


def report(history: int = 41_000, memory: int = 4_000, exact: bool = False):
    plan = plan_budget(WINDOW, builtin_profile("default"), max_output=16_384)
    used = {"system_prompt": 1_200, "examples": 0, "memory": memory, "summary": 2_500,
            "history": history, "current_input": 800}
    return make_report(plan, used, exact=exact)


@pytest.fixture
def gauge(qtbot):
    g = BudgetGauge()
    qtbot.addWidget(g)
    g.resize(300, 400)
    g.show()
    qtbot.waitExposed(g)
    return g


def settled(qtbot, g: BudgetGauge) -> None:
    qtbot.waitUntil(lambda: not g.is_animating(), timeout=2000)


def test_over_budget_component_is_painted_in_the_warning_colour(qtbot, gauge, artifacts_dir):
    gauge.set_report(report(history=41_000), uncertainty=0.04)  # history budget: 38,400
    settled(qtbot, gauge)
    history = gauge.segment("history")
    assert history.over and history.used == 41_000 and history.budget == 38_400
    assert not gauge.segment("memory").over
    warn = warning_color(dark=False)
    assert gauge.segment_color("history") == warn
    assert gauge.segment_color("memory") == component_color("memory", dark=False)

    image = gauge.grab().toImage()
    scale = image.devicePixelRatio()

    def pixels(rect):
        xs = [rect.left() + rect.width() * f for f in (0.25, 0.4, 0.5, 0.6, 0.75)]
        ys = [rect.top() + rect.height() * f for f in (0.2, 0.35, 0.5, 0.65, 0.8)]
        return [image.pixelColor(round(x * scale), round(y * scale)) for x in xs for y in ys]

    over = pixels(gauge.segment_rect("history"))
    # solid red with a light hatch: most samples are exactly the warning colour
    assert sum(c == warn for c in over) >= len(over) // 2
    # memory is within budget: its filled top part is its own colour, never red
    memory_rect = gauge.segment_rect("memory")
    memory_rect.setHeight(memory_rect.height() * 4_000 / 6_400)
    inside = pixels(memory_rect)
    assert all(c != warn for c in inside)
    assert sum(c == component_color("memory", dark=False) for c in inside) >= len(inside) // 2
    save_shot(gauge, "gauge_vertical_light.png", artifacts_dir)


def test_tooltip_gives_tokens_budget_percent_and_uncertainty(qtbot, gauge):
    gauge.set_report(report(history=41_000, memory=3_200), uncertainty=0.04)
    settled(qtbot, gauge)
    memory = gauge.tooltip_text("memory")
    assert "3,200 of 6,400 tokens used (50%)" in memory
    assert "Estimated ±4%" in memory and "±128 tokens" in memory
    history = gauge.tooltip_text("history")
    assert "Over its share by 2,600 tokens" in history
    assert "reply" in gauge.tooltip_text("reply_reserve")

    # hovering the middle of the memory segment shows that tooltip
    center = gauge.segment_rect("memory").center().toPoint()
    assert gauge.segment_at(gauge.segment_rect("memory").center()) == "memory"
    QApplication.sendEvent(gauge, QHelpEvent(QEvent.Type.ToolTip, center,
                                             gauge.mapToGlobal(center)))
    assert "3,200 of 6,400" in QToolTip.text()
    QToolTip.hideText()

    exact = report(exact=True)
    gauge.set_report(exact)
    assert "Exact count" in gauge.tooltip_text("memory")


def headline_tooltip(gauge: BudgetGauge) -> str:
    """Hover the headline; the tooltip as the user reads it (its markup rendered)."""
    center = gauge.headline_rect().center().toPoint()
    assert gauge.segment_at(gauge.headline_rect().center()) is None
    QApplication.sendEvent(gauge, QHelpEvent(QEvent.Type.ToolTip, center,
                                             gauge.mapToGlobal(center)))
    shown = QToolTip.text()
    QToolTip.hideText()
    doc = QTextDocument()
    doc.setHtml(shown)
    return doc.toPlainText()


@pytest.mark.parametrize(("window", "expected"), [
    (ResolvedWindow(4_096, WindowSource.SERVER, "local"),
     "Window: 4,096 tokens, as local serves it"),
    (ResolvedWindow(8_192, WindowSource.CATALOG),
     "Window: 8,192 tokens, from the model catalog"),
    (ResolvedWindow(16_000, WindowSource.SETTING, "local"),
     "Window: 16,000 tokens, from your setting for local"),
], ids=["server", "catalog", "setting"])
def test_the_headline_says_which_window_and_where_it_comes_from(qtbot, gauge, window,
                                                                expected):
    gauge.set_report(report())
    assert gauge.window_text() == ""
    assert headline_tooltip(gauge) == ""  # nothing to say yet
    gauge.set_window(window)
    assert gauge.window_text() == expected
    assert headline_tooltip(gauge) == expected
    assert gauge.accessibleDescription().endswith(f" {expected}.")
    gauge.set_report(None)  # the window stays known while the report is redone
    assert gauge.window_text() == expected
    gauge.set_window(None)
    assert gauge.window_text() == "" and expected not in gauge.accessibleDescription()


@pytest.mark.parametrize(("window", "tag"), [
    (ResolvedWindow(4_096, WindowSource.SERVER, "local"), " · served by local"),
    (ResolvedWindow(16_000, WindowSource.SETTING, "local"), " · your setting"),
    (ResolvedWindow(128_000, WindowSource.CATALOG), ""),
], ids=["server", "setting", "catalog"])
def test_a_window_not_from_the_catalog_is_named_beside_the_figures(qtbot, gauge, window, tag):
    gauge.set_window(window)
    gauge.set_report(report(exact=True))
    assert gauge.subtitle_text().endswith(" tokens · exact" + tag)


def test_a_provider_name_that_looks_like_markup_is_shown_as_typed(qtbot, gauge):
    name = "<b>lab</b> & <i>co"
    gauge.set_report(report())
    gauge.set_window(ResolvedWindow(4_096, WindowSource.SERVER, name))
    expected = f"Window: 4,096 tokens, as {name} serves it"
    assert gauge.window_text() == expected
    assert headline_tooltip(gauge) == expected


def test_legend_and_cost_line_show_the_numbers(qtbot, gauge):
    r = report(history=20_000)
    gauge.set_report(r)
    gauge.set_cost(0.0123, 0.4512)
    rows = {comp: numbers for comp, _label, numbers in gauge.legend_rows()}
    assert [comp for comp, _l, _n in gauge.legend_rows()] == list(GAUGE_ORDER)
    # the gauge's order is the budget's own, though the palette takes it from the glossary
    assert (*COMPONENTS, "free") == GAUGE_ORDER
    assert rows["history"] == "20,000 / 38,400"
    assert rows["examples"] == "0 / 19,200"
    assert rows["reply_reserve"] == "12,800 reserved"
    assert rows["free"] == f"{r.free:,} left"
    assert gauge.cost_text() == "Next request ≈ $0.012 · Session $0.451"
    gauge.set_cost(0.0012, 0.0)
    assert gauge.cost_text() == "Next request ≈ $0.0012 · Session $0.00"
    gauge.set_cost(None, 2.5)
    assert gauge.cost_text() == "Session $2.50"
    assert format_cost(0) == "$0.00"
    assert "History" not in gauge.accessibleDescription().split("Over budget")[0]
    gauge.set_report(None)  # no model yet: an empty bar, dashes in the legend
    assert {numbers for _c, _l, numbers in gauge.legend_rows()} == {"—"}
    assert gauge.segments() == []


def test_animation_reaches_its_target_and_retargets_mid_way(qtbot, gauge):
    gauge.set_report(report(history=5_000))
    settled(qtbot, gauge)
    gauge.set_report(report(history=30_000))
    assert gauge.is_animating()  # a big move is animated, not jumped
    i = GAUGE_ORDER.index("history")
    start = gauge.displayed_fractions()[i][1]
    qtbot.wait(30)
    middle = gauge.displayed_fractions()[i][1]
    gauge.set_report(report(history=10_000))  # changed while moving: retarget
    settled(qtbot, gauge)
    assert gauge.displayed_fractions() == gauge.target_fractions()
    assert gauge.displayed_fractions()[i][1] == pytest.approx(10_000 / WINDOW)
    assert start <= middle  # it was on its way up before it turned back

    # one keystroke's worth of change is drawn at once: the gauge never lags typing
    gauge.set_report(report(history=10_001))
    assert not gauge.is_animating()
    assert gauge.displayed_fractions()[i][1] == pytest.approx(10_001 / WINDOW)

    # the same figures again while on its way (the counting announced at a session's
    # open sets the report again): the bar keeps its course instead of starting over
    gauge._anim.setDuration(3000)  # long enough that no stall of the machine ends it
    gauge.set_report(report(history=30_000))
    qtbot.waitUntil(lambda: gauge._anim.currentTime() > 50, timeout=2000)
    frames = gauge._anim.currentTime()
    gauge.set_report(gauge.report())
    assert gauge.is_animating() and gauge._anim.currentTime() >= frames > 50
    qtbot.waitUntil(lambda: not gauge.is_animating(), timeout=6000)
    assert gauge.displayed_fractions()[i][1] == pytest.approx(30_000 / WINDOW)


def test_elastic_lending_keeps_segments_within_the_window(qtbot, gauge):
    plan = plan_budget(WINDOW, builtin_profile("default"), max_output=16_384, elastic=True)
    r = make_report(plan, {"system_prompt": 500, "history": 60_000, "current_input": 50})
    gauge.set_report(r)
    segments = gauge.segments()
    assert sum(s.extent for s in segments) == WINDOW
    history = gauge.segment("history")
    assert not history.over and history.extent > plan.budgets["history"]
    assert "lent by under-used components" in gauge.tooltip_text("history")


def test_screenshots_in_both_themes_and_orientations(qtbot, artifacts_dir):
    for theme in ("light", "dark"):
        for orientation, size in ((Qt.Orientation.Vertical, (300, 400)),
                                  (Qt.Orientation.Horizontal, (480, 270))):
            g = BudgetGauge(orientation=orientation)
            qtbot.addWidget(g)
            if theme == "dark":
                g.setPalette(dark_palette())
                g.setAutoFillBackground(True)
            g.resize(*size)
            g.set_report(report(history=41_000), uncertainty=0.04)
            g.set_cost(0.0123, 0.4512)
            g.show()
            needed = (g.minimumSizeHint().height() if orientation == Qt.Orientation.Vertical
                      else g.heightForWidth(size[0]))
            assert needed <= size[1]  # the screenshot shows the whole widget
            name = "vertical" if orientation == Qt.Orientation.Vertical else "horizontal"
            save_shot(g, f"gauge_{name}_{theme}.png", artifacts_dir)
    compact = BudgetGauge(orientation=Qt.Orientation.Horizontal, compact=True)
    qtbot.addWidget(compact)
    compact.resize(300, 24)
    compact.set_allocation(plan_budget(WINDOW, builtin_profile("pyramid")))
    assert compact.legend_rows() == []
    save_shot(compact, "gauge_compact.png", artifacts_dir)
