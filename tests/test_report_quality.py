"""featevo.report.quality: label marks (echo of Delphi's prompt, duplicates, not beating the floor) and the
density mark, without building a report."""

from __future__ import annotations

from featevo.report.quality import (
    FALLBACK_EXAMPLES, Flag, delphi_examples, echoed_example, floor_failures, is_dense, label_flags, legend,
    near_duplicate,
)

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


def test_label_flags_per_sae():
    good = {"detection": (0.8, 0.5)}
    flags = label_flags([
        ("base", 1, "Interest rates and central bank policy", good),
        ("base", 2, "interest rates and central bank policy.", good),  # duplicate of latent 1
        ("tuned", 3, "Interest rates and central bank policy", good),  # other SAE: not a duplicate
        ("tuned", 4, 'The token "x" at the end of a comparative adjective describing size.', good),
        ("tuned", 5, "Company names in earnings reports", {"detection": (0.5, 0.5)}),
        ("tuned", 6, None, good),  # no label: no flag, no entry
    ], examples=[ER])
    kinds = {k: [f.kind for f in v] for k, v in flags.items()}
    assert kinds[("base", 1)] == ["duplicate"] and kinds[("base", 2)] == ["duplicate"]
    assert "also latent 2" in flags[("base", 1)][0].detail
    assert kinds[("tuned", 3)] == []
    assert kinds[("tuned", 4)] == ["echo"]
    assert kinds[("tuned", 5)] == ["floor"] and flags[("tuned", 5)][0].detail == "detection"
    assert ("tuned", 6) not in flags


def test_dense_and_legend():
    assert is_dense(0.46, 0.1) and not is_dense(0.1, 0.1) and not is_dense(None, 0.1)
    assert not is_dense(float("nan"), 0.1)
    text = legend(["echo", "dense"], 0.1)
    assert "echoes prompt" in text and "10%" in text and "dense" in text and "greyed" in text
    assert legend([]) == ""
    assert Flag("floor", "detection").mark and "detection" in Flag("floor", "detection").title
