"""How the window writes its figures: token counts (in full and short for narrow
places), money at the scale of per-request LLM prices, and shares of a whole."""

from __future__ import annotations

from desktop_app.core.text import format_tokens, format_tokens_short

__all__ = ["format_cost", "format_percent", "format_tokens", "format_tokens_short"]


def format_cost(dollars: float) -> str:
    """Readable money at the scale of per-request LLM prices."""
    if dollars == 0:
        return "$0.00"
    if abs(dollars) < 0.0001:
        return "<$0.0001"
    if abs(dollars) < 0.01:
        return f"${dollars:.4f}"
    if abs(dollars) < 1:
        return f"${dollars:.3f}"
    return f"${dollars:,.2f}"


def format_percent(fraction: float) -> str:
    pct = fraction * 100
    if pct == 0:
        return "0%"
    if abs(pct) < 10:
        return f"{pct:.1f}".rstrip("0").rstrip(".") + "%"
    return f"{pct:.0f}%"
