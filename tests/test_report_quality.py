"""Label marks (echo of Delphi's prompt, duplicates, not beating the floor), made by stage 04
(featevo.label_quality) and rendered as flags by featevo.report.quality, and the density mark, without building a
report."""

from __future__ import annotations

from featevo.label_quality import (
    FALLBACK_EXAMPLES, UNDEFINED, delphi_examples, echoed_example, floor_failures, label_marks, near_duplicate,
)
from featevo.report.quality import Flag, is_dense, label_flags, legend

ER = 'The token "er" at the end of a comparative adjective describing size.'


def test_delphi_examples_are_read_from_the_installed_package():
    ex = delphi_examples()
    assert ex and all(isinstance(e, str) and e for e in ex)
    assert any("comparative adjective describing size" in e for e in ex) or ex == FALLBACK_EXAMPLES


def test_echo_of_the_few_shot_example():
    for label in ('The token "1" at the end of a comparative adjective describing size.',
                  'The token "cleared" at the end of a comparative adjective describing size',
                  "comparative adjectives describing size"):
        assert echoed_example(label, [ER]) == ER, label
    for label in ('The token "380 million" at the end of a financial transaction is often used to represent a loss.',
                  "Interest rates set by central banks", "The token \"er\".", ""):
        assert echoed_example(label, [ER]) is None, label
    # the short example ('The token "er".') never matches on its one content word alone
    assert echoed_example('The token "er"', ['The token "er".']) is None


def test_near_duplicates():
    a = 'The token "1" at the end of a comparative adjective describing size.'
    assert near_duplicate(a, a.upper())
    assert near_duplicate(a, a.replace('"1"', '"2"'))
    assert not near_duplicate('The token "bank"', 'The token "loan"')
    assert not near_duplicate("", a)


def test_floor_failures():
    assert floor_failures({"detection": (0.7, 0.5)}) == []
    assert floor_failures({"detection": (0.5, 0.5)}) == ["detection"]
    assert floor_failures({"detection": (0.7, 0.5), "embedding": (0.8, 0.9)}) == ["embedding"]
    assert floor_failures({"detection": (None, 0.5), "embedding": (0.9, float("nan"))}) == ["undefined"]
    assert floor_failures({}) == ["undefined"]
    assert floor_failures({"detection": (None, 0.5), "embedding": (0.9, 0.5)}) == []


def test_label_marks_per_sae():
    good = {"detection": (0.8, 0.5)}
    marks = label_marks([
        ("base", 1, "Interest rates and central bank policy", good),
        ("base", 2, "interest rates and central bank policy.", good),  # duplicate of latent 1
        ("tuned", 3, "Interest rates and central bank policy", good),  # other SAE: not a duplicate
        ("tuned", 4, 'The token "x" at the end of a comparative adjective describing size.', good),
        ("tuned", 5, "Company names in earnings reports", {"detection": (0.5, 0.5)}),
        ("tuned", 6, None, good),  # no label: no marks, no entry
        ("tuned", 7, "Dates", {"detection": (None, 0.5)}),
    ], examples=[ER])
    assert marks[("base", 1)] == {"echoes": None, "duplicates": "2", "below_floor": None}
    assert marks[("base", 2)]["duplicates"] == "1"
    assert marks[("tuned", 3)] == {"echoes": None, "duplicates": None, "below_floor": None}
    assert marks[("tuned", 4)]["echoes"] == ER and marks[("tuned", 4)]["duplicates"] is None
    assert marks[("tuned", 5)]["below_floor"] == "detection"
    assert marks[("tuned", 7)]["below_floor"] == UNDEFINED
    assert ("tuned", 6) not in marks


def test_label_flags_render_the_mark_columns():
    rows = [{"base_latent": 1, "base_label": "Interest rates", "base_echoes": None, "base_duplicates": "2, 5",
             "base_below_floor": "detection, embedding", "tuned_latent": 3, "tuned_label": "x",
             "tuned_echoes": ER, "tuned_duplicates": None, "tuned_below_floor": UNDEFINED},
            {"base_latent": 4, "base_label": "[failed: no line]", "tuned_latent": None, "tuned_label": None}]
    flags = label_flags(rows)
    assert [f.kind for f in flags[("base", 1)]] == ["duplicate", "floor"]
    assert flags[("base", 1)][0].detail == "also latent 2, 5" and flags[("base", 1)][1].detail == "detection, embedding"
    assert [f.kind for f in flags[("tuned", 3)]] == ["echo", "floor"] and ER in flags[("tuned", 3)][0].detail
    assert flags[("tuned", 3)][1].detail == "no scorer has both values"
    assert set(flags) == {("base", 1), ("tuned", 3)}  # a failed or absent label gets no entry


def test_dense_and_legend():
    assert is_dense(0.46, 0.1) and not is_dense(0.1, 0.1) and not is_dense(None, 0.1)
    assert not is_dense(float("nan"), 0.1)
    text = legend(["echo", "dense"], 0.1)
    assert "echoes prompt" in text and "10%" in text and "dense" in text and "greyed" in text
    assert legend([]) == ""
    assert Flag("floor", "detection").mark and "detection" in Flag("floor", "detection").title
