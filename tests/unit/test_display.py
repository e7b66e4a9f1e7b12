"""Rich and HTML display of trials, reports, profilers and histories (``fasttrial._display``,
``fasttrial.optimization._display``, ``fasttrial.profiling._display``)."""

from __future__ import annotations

import re

import pytest

from fasttrial._display import render_html, render_text
from fasttrial.optimization import History, Metric, RandomSearch, Trial
from fasttrial.optimization._display import history_html, history_renderable
from fasttrial.profiling import Profiler
from fasttrial.profiling._display import profiler_html, profiler_table

LOSS = Metric("loss", minimize=True)


def _history(n: int) -> History:
    search = RandomSearch({"x": (0.0, 1.0), "kind": ["a", "b"]}, metrics=LOSS, seed=0)
    history = History()
    for i in range(n):
        trial = search.ask()
        with trial.begin(), trial.profile("fit"):
            if i % 7 == 3:
                raise ValueError(f"boom {i} " + "very long message " * 5)
        history.add(trial.fail() if trial.exception else trial.success(loss=trial.config["x"]))
    return history


class _CountingHistory(History):
    """A history that records which slices were taken and whether df() saw everything."""

    __slots__ = ("full_df", "slices")

    def __init__(self, reports: list[Trial.Report]) -> None:
        super().__init__(reports)
        self.slices: list[tuple[int | None, int | None]] = []
        self.full_df = False

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        if isinstance(key, slice):
            self.slices.append((key.start, key.stop))
        return super().__getitem__(key)

    def df(self, **kwargs):  # type: ignore[no-untyped-def]
        self.full_df = True
        return super().df(**kwargs)


@pytest.fixture(scope="module")
def big() -> History:
    return _history(500)


def test_history_table_shows_head_and_tail_only(big: History) -> None:
    text = render_text(history_renderable(big), width=160)
    names = set(re.findall(r"\btrial-\d+\b", text))
    assert {"trial-0", "trial-9", "trial-490", "trial-499"} <= names
    assert len(names) == 20
    assert "... 480 more rows ..." in text
    assert "History (500 reports; loss (minimize))" in text
    for header in ("status", "loss (minimize)", "x", "kind", "duration (s)", "exception"):
        assert header in text
    assert "boom 3" in text
    assert "very long message very long message very long message" not in text  # shortened
    assert len(text.splitlines()) < 60


def test_history_display_reads_only_slices() -> None:
    history = _CountingHistory(list(_history(100)))
    render_text(history_renderable(history))
    history_html(history)
    assert not history.full_df
    assert set(history.slices) == {(0, 10), (90, 100)}


def test_short_history_shows_every_row() -> None:
    text = render_text(history_renderable(_history(12)), width=160)
    assert len(set(re.findall(r"\btrial-\d+\b", text))) == 12
    assert "more rows" not in text


def test_empty_history() -> None:
    assert render_text(history_renderable(History())).strip() == "History (0 reports; no metrics)"
    assert (
        history_html(History())
        == "<table><caption>History (0 reports; no metrics)</caption></table>"
    )


def test_history_html_is_bounded(big: History) -> None:
    html = history_html(big)
    assert html.startswith("<table>")
    assert html.count("<tr") == 1 + 20 + 1  # header, head and tail rows, the gap
    assert "480 more rows" in html
    names = set(re.findall(r"\btrial-\d+\b", html))
    assert {"trial-0", "trial-499"} <= names
    assert len(names) == 20


def test_history_html_escapes() -> None:
    trial = Trial(name="<b>x</b>", config={"s": "<script>"}, metrics=[LOSS])
    with trial.begin():
        pass
    html = history_html(History([trial.success(loss=1.0)]))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_profiler_table_and_html_are_bounded() -> None:
    profiler = Profiler()
    for i in range(50):
        with profiler(f"step-{i}"):
            pass
    text = render_text(profiler_table(profiler))
    assert "Profiler (50 intervals)" in text
    assert "step-0" in text
    assert "step-49" in text
    assert "step-25" not in text
    assert "... 30 more rows ..." in text
    html = profiler_html(profiler)
    assert "<pre" in html
    assert "step-49" in html


def test_trial_and_report_html_keep_colors() -> None:
    trial = Trial(name="colorful", config={"x": 1}, metrics=[LOSS])
    with trial.begin():
        pass
    report = trial.success(loss=0.25)
    html = render_html(report)
    assert "colorful" in html
    assert "success" in html
    assert "style=" in html  # rich's inline styles
    assert "Report" in render_text(report)
