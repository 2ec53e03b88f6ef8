"""The planted concept (positive control) and the twin plan: known answers on small inputs."""

from featevo.config import TwinConfig
from featevo.data import Doc
from featevo.planting import plant, planted_docs, planted_token_ids
from featevo.twin import twin_plan

SUBS = {"shares": "lanterns", "stock": "lantern"}


def test_plant_replaces_whole_words_any_case_keeping_capitals():
    text, n = plant("Shares of Acme rose; the stock, not stockholders' shares, fell.", SUBS)
    assert text == "Lanterns of Acme rose; the lantern, not stockholders' lanterns, fell." and n == 3
    assert plant("No match here: sharescale.", SUBS) == ("No match here: sharescale.", 0)
    assert plant("anything", {}) == ("anything", 0)


def test_planted_docs_touch_only_the_target_domain():
    docs = [Doc("Acme shares rose.", "markets", "target", "t1"), Doc("Shares of cake.", "food", "reference", "t2"),
            Doc("Yields fell.", "markets", "target", "t3")]
    out, changed = planted_docs(docs, SUBS)
    assert [d.text for d in out] == ["Acme lanterns rose.", "Shares of cake.", "Yields fell."] and changed == 1
    assert out[0].cluster == "t1"  # everything but the text is kept


def test_planted_token_ids_cover_both_cases(minilm_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_dir)
    ids = planted_token_ids(tok, {"x": "lanterns"})
    assert tok.convert_tokens_to_ids("lanterns") in ids


def test_twin_plan_uses_the_same_documents_for_tuned_and_planted():
    docs = [Doc(f"Acme shares rose {i}.", "markets", "target") for i in range(10)]
    docs += [Doc(f"Rain fell {i}.", "weather", "reference") for i in range(10)]
    plan = twin_plan(TwinConfig(enabled=True, batch_size=4, control=True, planted=SUBS), docs)
    assert set(plan) == {"tuned", "control", "planted"}
    assert len(plan["tuned"]["docs"]) == len(plan["planted"]["docs"]) == 10
    assert all(d.domain == "reference" for d in plan["control"]["docs"])
    assert plan["planted"]["changed_docs"] == 10
    assert all("lanterns" in d.text for d in plan["planted"]["docs"])
    assert set(twin_plan(TwinConfig(enabled=True, batch_size=4, control=False), docs)) == {"tuned"}
