"""Section 3, the fine-tuned twin (only with ``twin.enabled``): parameter drift per block from ``01_twin``'s
report, and the masked-LM loss on the probe before and after tuning, from ``03_activation_deltas``
(``twin_eval.json``, where the probe is read)."""

from __future__ import annotations

from typing import Optional

from featevo.layout import DELTAS, TWIN, DeltasFiles, ReportFiles, TwinFiles
from featevo.report.common import num, pct_change, source, word_change
from featevo.report.context import ReportContext
from featevo.report.templates import MISSING, Para, Section, Table, finite, fint, fnum, fpct


TWIN_ORDER = ("tuned", "control", "planted", "replica")
TWIN_LABEL = {"tuned": "tuned twin", "control": "control twin", "planted": "planted twin", "replica": "replica twin"}
"""Column names of the twins; the tuned twin is named by the target domain (:func:`twin_labels`)."""
DOMAIN_ROLES = ("target", "reference")
"""Keys of ``eval_mlm_loss`` in 01_twin's report: the domain roles (featevo.data.TARGET / REFERENCE)."""


def twin_labels(domains: tuple[str, str]) -> dict[str, str]:
    return {**TWIN_LABEL, "tuned": f"{domains[0]} twin"}


def drift_by_twin(drift: dict) -> dict[str, dict]:
    """Twin -> block -> {l2, relative}; an older report held one twin's blocks directly (taken as ``tuned``)."""
    if any(isinstance(v, dict) and "relative" in v for v in drift.values()):
        return {"tuned": drift}
    return {k: v for k, v in drift.items() if isinstance(v, dict)}


def drift_table(drift: dict[str, dict], domains: tuple[str, str] = ("financial", "general")) -> Table:
    labels = twin_labels(domains)
    twins = [t for t in TWIN_ORDER if t in drift] + [t for t in drift if t not in TWIN_ORDER]
    blocks = list(dict.fromkeys(b for t in twins for b in drift[t]))
    rows = []
    for name in blocks:
        cells = [name.replace("layer_", "block ")]
        for t in twins:
            d = drift[t].get(name) or {}
            cells += [num(fnum(d.get("l2"), 4)), num(fpct(d.get("relative"), 2))]
        rows.append(cells)
    heads = [h for t in twins for h in (f"{labels.get(t, t)}: L2 change", "relative")]
    return Table("tbl-twin-drift", ["parameters", *heads], rows,
                 caption="Parameter drift per block (each twin minus base)",
                 notes=["Relative change: ||W_twin - W_base|| / ||W_base|| over the block's parameters. The control "
                        f"twin ran the same recipe on {domains[1]} text."],
                 source=source(TWIN, TwinFiles.REPORT))


def mlm_table(mlm: dict, domains: tuple[str, str] = ("financial", "general")) -> Table:
    labels, names = twin_labels(domains), dict(zip(DOMAIN_ROLES, domains))
    models = [m for m in ("base", *TWIN_ORDER) if any(isinstance(v, dict) and m in v for v in mlm.values())]
    rows = []
    for dom, v in mlm.items():
        if not isinstance(v, dict):
            continue
        rows.append([f"{names.get(dom, dom)} text", num(fint(v.get("docs"))), *[num(fnum(v.get(m), 3)) for m in models],
                     *[num(fpct(pct_change(v.get(m), v.get("base")), 1, signed=True)) for m in models[1:]]])
    heads = [f"{m} MLM loss" for m in models] + [f"change, {labels.get(m, m)}" for m in models[1:]]
    return Table("tbl-twin-mlm", ["held-out text", "documents", *heads], rows,
                 caption="Masked-LM loss of the base model and each twin on the probe set",
                 source=source(DELTAS, DeltasFiles.TWIN_EVAL))


def twin_finding(ctx: ReportContext, mlm: dict) -> None:
    fin, gen = mlm.get("target", {}), mlm.get("reference", {})
    t, g = ctx.domains
    if not (isinstance(fin, dict) and isinstance(gen, dict) and finite(fin.get("base")) and finite(gen.get("base"))):
        return
    text = (f"Fine-tuning {word_change(fin.get('tuned'), fin.get('base'), 'raised', 'lowered', 'kept')} the "
            f"held-out masked-LM loss on {t} text from {fnum(fin.get('base'))} to {fnum(fin.get('tuned'))} "
            f"({fpct(pct_change(fin.get('tuned'), fin.get('base')), 1, True)}); on {g} text it "
            f"{word_change(gen.get('tuned'), gen.get('base'))} from {fnum(gen.get('base'))} to "
            f"{fnum(gen.get('tuned'))} ({fpct(pct_change(gen.get('tuned'), gen.get('base')), 1, True)})")
    if finite(fin.get("control")) and finite(gen.get("control")):
        text += (f". The control twin (same recipe on {g} text) moved them to {fnum(fin.get('control'))} "
                 f"({fpct(pct_change(fin.get('control'), fin.get('base')), 1, True)}) and {fnum(gen.get('control'))} "
                 f"({fpct(pct_change(gen.get('control'), gen.get('base')), 1, True)})")
    ctx.find("twin", text + ".", target=fin, reference=gen)


def windows_clause(tw: dict) -> str:
    """How the tuned twin's documents were cut into windows and what, if anything, was dropped ("" for an older
    report without the accounting)."""
    acc = ((tw.get("twins") or {}).get("tuned") or {}).get("tokenisation")
    if not isinstance(acc, dict) or not isinstance(acc.get("dropped"), dict):
        return ""
    cut = acc["dropped"].get("truncation") or 0
    return (f", cut into {fint(acc.get('windows'))} windows as stage 01 cuts the corpus: "
            f"{fint(acc.get('tokens_kept'))} tokens, " + (f"{fint(cut)} dropped by harvest.max_windows" if cut
                                                          else "none truncated"))


def twin_section(ctx: ReportContext) -> Optional[Section]:
    tw = ctx.up.twin
    if not ctx.cfg.twin.enabled:
        return None
    sec = Section("twin", "The fine-tuned twin")
    if not isinstance(tw, dict):
        sec.add(Para(f"{MISSING} The twin report (`{source(TWIN, TwinFiles.REPORT)}`) is missing.", "note"))
        return sec
    sec.add(Para(
        f"The tuned model is made here: {ctx.model_name('base')} continued its masked-LM pretraining on the "
        f"{ctx.domains[0]} documents of the training split ({fint(tw.get('target_train_docs'))} documents"
        + (", after fitting a masked-LM head on the frozen base, which ships without one" if
           tw.get("base_had_mlm_head") is False else "") + ")" + windows_clause(tw) + ". The drift shows how far "
        "each block moved."))
    drift = drift_by_twin(tw.get("drift", {}) or {})
    mlm = tw.get("eval_mlm_loss", {}) or {}
    hf = tw.get("head_fit") or {}
    if hf:
        first_loss = ((hf.get("curve") or [{}])[0] or {}).get("eval_loss")
        sec.add(Para(f"Masked-LM head fitted on the frozen base: held-out loss {fnum(first_loss)} -> "
                     f"{fnum(hf.get('best_eval_loss'))} in {fint(hf.get('steps'))} steps ("
                     + ("converged" if hf.get("converged") else "not converged: stopped at twin.head_fit_max_steps")
                     + "). " + str(tw.get("eval_note") or ""), "note"))
    if not mlm:
        sec.add(Para(f"{MISSING} The masked-LM losses on the probe (`{source(DELTAS, DeltasFiles.TWIN_EVAL)}`, "
                     "written by stage 03 with a twin) are missing.", "note"))
    sec.add(drift_table(drift, ctx.domains), mlm_table(mlm, ctx.domains))
    if drift.get("tuned") and mlm:
        from featevo.report.figures import twin_drift_and_loss

        p = ctx.fig_dir / ReportFiles.TWIN
        twin_drift_and_loss({k: v for k, v in drift["tuned"].items() if isinstance(v, dict)},
                            {dict(zip(DOMAIN_ROLES, ctx.domains)).get(k, k): v for k, v in mlm.items()
                             if isinstance(v, dict)}, p)
        sec.add(*ctx.figure_block(p, "Left: relative parameter drift per block. Right: held-out masked-LM loss "
                                     "of the base (blue) and tuned (orange) model.",
                                  "Twin parameter drift and MLM loss", "fig-twin"))
    twin_finding(ctx, mlm)
    return sec
