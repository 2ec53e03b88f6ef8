"""A lens added through the registry alone (:func:`featevo.diffing_lenses.register`) reaches every room of
``02_model_diffing`` and the report without editing any other module: its summary section, its claims (with its
lens name and role), the planted positive control, lens agreement and the rendered report.

The toy lens is a small fixed-dictionary lens: stage 01's base SAE encodes every model's held-out rows, and a
latent's change is the absolute shift of its mean activation (tuned minus base; planted minus tuned for the planted
contrast). It flags the latents whose shift exceeds the largest shift of the control twin.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from featevo.layout import DIFFING, REPORT, stage_dir
from test_report import _Parser, copy_of_run, report_cfg, table  # noqa: F401  (session fixture)

TOY = "toy_mean_shift"


class ToyLens:
    """Base SAE on every model's rows; change = |mean activation shift| per latent."""

    name = TOY
    agreement_name = "toy"
    label = "toy mean shift"
    description = "stage 01's base SAE encodes every model's rows; a latent's change is its mean activation shift."

    def _sae(self, run):
        from featevo.layout import main_saes, sae_dir
        from featevo.sae import load_sae

        return load_sae(sae_dir(run.s1, main_saes(run.cfg, "base")[0]), run.device)

    def fit(self, run) -> dict:
        from featevo.sae import encode

        sae = self._sae(run)
        mean = {k: encode(sae, run.rows.x[k]).numpy().mean(0) for k in run.keys}
        shift = {k: np.abs(mean[k] - mean["base"]) for k in run.keys}
        shift["planted"] = np.abs(mean["planted"] - mean["tuned"])
        return {"shift": shift, "flagged": np.flatnonzero(shift["tuned"] > shift["control"].max()).tolist()}

    def table(self, state):
        return None

    def summary(self, run, state) -> dict:
        return {TOY: {"flagged": len(state["flagged"]), "latents": int(len(state["shift"]["tuned"])),
                      "max_shift_tuned": float(state["shift"]["tuned"].max())}}

    def change(self, state, part):
        return state["shift"]["planted" if part == "planted" else "tuned"]

    def codes(self, run, state, acts, part):
        from featevo.sae import encode

        return encode(self._sae(run), acts["planted" if part == "planted" else "tuned"]).numpy()

    def statistic(self, part):
        return "absolute mean activation shift of the base SAE's latent"

    def negative_control(self, run, state, summary):
        return {"tuned": len(state["flagged"]), "control": 0, "what": "latents beyond the control twin's largest shift"}

    def flagged_base_latents(self, run, state) -> dict:
        return {"latents": state["flagged"], "what": "base SAE latents shifted beyond the control twin's maximum"}

    def claims(self, summary, alpha):
        from featevo.claims import rate_claim

        e = summary[TOY]
        return [rate_claim(f"{TOY}:flags", "the toy lens flags more latents than alpha",
                           "the toy lens flags no more latents than alpha", e["flagged"], e["latents"], alpha, alpha,
                           lens=TOY, role="claim")]

    def figures(self, run, state) -> None:
        return None


@pytest.fixture(scope="module")
def toy_run(report_cfg, tmp_path_factory):  # noqa: F811
    """The report fixture's run copied, with 02_model_diffing and the report rerun with the toy lens registered."""
    from featevo import diffing, report
    from featevo.config import CrosscoderConfig, DiffingConfig, StagewiseConfig
    from featevo.diffing_lenses import LENSES, register, unregister

    cfg = copy_of_run(
        report_cfg, tmp_path_factory.mktemp("toy_lens") / "outputs",
        diffing=DiffingConfig(stagewise=StagewiseConfig(tokens=512, orders=2, domain_orders=0),
                              crosscoder=CrosscoderConfig(tokens=512), max_tokens=2000))
    register(ToyLens())
    try:
        assert list(LENSES)[-1] == TOY
        diffing.run(cfg, force=True)
        report.run(cfg, force=True)
    finally:
        unregister(TOY)
    assert TOY not in LENSES
    return cfg


def test_a_registered_lens_reaches_the_stage_and_the_report(toy_run):
    cfg = toy_run
    summary = json.loads((stage_dir(cfg, DIFFING) / "summary.json").read_text())
    # its summary section, its description and its negative control
    assert summary[TOY]["latents"] == cfg.sae.num_latents
    assert summary["lenses"][TOY]["label"] == "toy mean shift"
    assert summary["negative_control"][TOY]["tuned"] == summary[TOY]["flagged"]
    # its claim, with its lens and role, after the built-in lenses' claims
    (claim,) = [c for c in summary["claims"] if c["lens"] == TOY]
    assert claim["role"] == "claim" and claim["observed"]["count"] == summary[TOY]["flagged"]
    assert [c["lens"] for c in summary["claims"]][-1] == TOY
    # scored on the planted control beside the built-in lenses
    assert set(summary["planted"]) >= {"stagewise", "crosscoder", "matching", TOY}
    assert 1 <= summary["planted"][TOY]["planted"]["rank"] <= cfg.sae.num_latents
    # its flagged set in lens agreement
    assert summary["lens_sets"]["lenses"]["toy"]["latents"] == sorted(summary["lens_sets"]["lenses"]["toy"]["latents"])

    rep = stage_dir(cfg, REPORT)
    findings = {f["id"]: f for f in json.loads((rep / "findings.json").read_text())}
    md = (rep / "report.md").read_text(encoding="utf-8")
    (fid,) = [k for k in findings if k.startswith(f"diffing_{TOY}_")]
    assert findings[fid]["claims"][0]["id"] == claim["id"] and findings[fid]["text"] in md
    assert findings[fid]["supported"] == claim["supported"]
    p = _Parser()
    p.feed((rep / "report.html").read_text(encoding="utf-8"))
    _, rows = table(p, "tbl-diffing-toy-mean-shift")
    assert rows[0][0] == claim["statement"] and rows[0][-1] == ("yes" if claim["supported"] else "no")
    _, planted = table(p, "tbl-diffing-planted")
    assert "toy mean shift" in [r[0] for r in planted]
    _, sets = table(p, "tbl-lens-sets")
    (toy_row,) = [r for r in sets if r[0] == "toy"]
    assert toy_row[1].startswith(f"{len(summary['lens_sets']['lenses']['toy']['latents'])} of ")
    pairs = findings["lens_agreement"]["values"]["pairs"]
    assert any("toy" in (q["a"], q["b"]) for q in pairs)
