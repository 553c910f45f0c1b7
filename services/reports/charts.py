"""PNG charts for statistics and briefings, drawn with matplotlib's Agg canvas (no GUI, no pyplot).

Chinese labels need a CJK font; a server has none, and matplotlib would draw boxes (tofu). The
font comes from a PyPI package the project depends on (pylopdf-fonts-zh-cn: Noto Sans SC, SIL OFL)
and is registered with matplotlib's font manager from the package's files at first use: no system
font install and no network.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

import texts.reports as tr

DPI = 100
PANEL_WIDTH_IN = 5.5
PANEL_HEIGHT_IN = 3.2
COLORS = ("#3b6ea5", "#e07b39", "#5a9e5a", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
SATISFACTION_COLORS = ("#5a9e5a", "#9ccf7a", "#c44e52", "#b0b0b0")
MAX_LABEL = 12

_lock = threading.Lock()
_family: str | None = None


class ChartError(RuntimeError):
    """A chart cannot be drawn here (the CJK font package is missing)."""


@dataclass(frozen=True)
class Panel:
    """One sub-chart: a title and (label, count) bars; panels are laid out two to a row."""

    title: str
    items: Sequence[tuple[str, int]]
    style: Literal["barh", "bar"] = "barh"


def cjk_font_path() -> Path:
    """The Simplified Chinese font file shipped by the font package."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError as exc:
        raise ChartError("pip install pylopdf-fonts-zh-cn (Noto Sans SC for chart labels)") from exc
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    if not path.is_file():
        raise ChartError(f"CJK font file missing: {path}")
    return path


def cjk_font_family() -> str:
    """Register the CJK font with matplotlib once and return its family name."""
    global _family
    with _lock:
        if _family is None:
            path = cjk_font_path()
            font_manager.fontManager.addfont(str(path))
            _family = font_manager.FontProperties(fname=str(path)).get_name()
        return _family


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _draw(ax: Any, panel: Panel, family: str) -> None:
    ax.set_title(panel.title, fontsize=12, family=family, loc="left")
    items = [(label, n) for label, n in panel.items]
    if not items or not any(n for _, n in items):
        ax.text(0.5, 0.5, tr.CHART_EMPTY, ha="center", va="center", family=family, fontsize=11)
        ax.set_axis_off()
        return
    labels = [_short(label) for label, _ in items]
    values = [n for _, n in items]
    if panel.style == "bar":
        colors = SATISFACTION_COLORS if len(items) == len(SATISFACTION_COLORS) else COLORS
        bars = ax.bar(
            range(len(values)), values, color=[colors[i % len(colors)] for i in range(len(values))]
        )
        ax.set_xticks(range(len(values)), labels, family=family, fontsize=10)
        ax.set_ylim(0, max(values) * 1.25 + 0.5)
    else:
        positions = list(range(len(values)))[::-1]  # largest on top
        bars = ax.barh(positions, values, color=COLORS[0], height=0.6)
        ax.set_yticks(positions, labels, family=family, fontsize=10)
        ax.set_xlim(0, max(values) * 1.2 + 0.5)
    ax.bar_label(bars, padding=2, fontsize=9, family=family)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="both", labelsize=9)
    if panel.style == "barh":
        ax.tick_params(axis="x", labelbottom=False, bottom=False)
    else:
        ax.tick_params(axis="y", labelleft=False, left=False)


def build_figure(title: str, panels: Sequence[Panel]) -> Figure:
    """The figure itself (tests inspect its fonts); `render_panels` turns it into PNG bytes."""
    family = cjk_font_family()
    cols = 2 if len(panels) > 1 else 1
    rows = max((len(panels) + cols - 1) // cols, 1)
    fig = Figure(figsize=(PANEL_WIDTH_IN * cols, PANEL_HEIGHT_IN * rows + 0.6), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontsize=14, family=family, x=0.02, ha="left")
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        _draw(ax, panel, family)
    for text in fig.findobj(match=Text):
        assert isinstance(text, Text)
        text.set_fontfamily([family])
    # Fixed margins (room for MAX_LABEL characters left of each panel) instead of tight_layout,
    # which measured every label and cost about a third of the drawing.
    top = 1 - 0.6 / (PANEL_HEIGHT_IN * rows + 0.6)
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.06, top=top - 0.04, wspace=0.45, hspace=0.4)
    return fig


def render_panels(title: str, panels: Sequence[Panel]) -> bytes:
    """PNG bytes of the panels, Chinese labels in the packaged CJK font."""
    fig = build_figure(title, panels)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()
