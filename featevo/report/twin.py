"""Section 3, the fine-tuned twin (only with ``twin.enabled``): parameter drift per block and the
masked-LM loss before and after tuning, from ``01_twin``'s report."""

from __future__ import annotations

from typing import Optional

from featevo.layout import TWIN, ReportFiles, TwinFiles
from featevo.report.common import diff, num, pct_change, source, word_change
from featevo.report.context import ReportContext
from featevo.report.templates import MISSING, Para, Section, Table, finite, fint, fnum, fpct, fsigned


def drift_table(drift: dict) -> Table:
    rows = [[name.replace("layer_", "block "), num(fnum(d.get("l2"), 4)), num(fpct(d.get("relative"), 2))]
            for name, d in drift.items() if isinstance(d, dict)]
    return Table("tbl-twin-drift", ["parameters", "L2 change", "relative change"], rows,
                 caption="Parameter drift per block (tuned minus base)",
                 notes=["Relative change: ||W_tuned - W_base|| / ||W_base|| over the block's parameters."],
                 source=source(TWIN, TwinFiles.REPORT))


def mlm_table(mlm: dict) -> Table:
    rows = []
    for dom, v in mlm.items():
        if not isinstance(v, dict):
            continue
        rows.append([f"{dom} text", num(fint(v.get("docs"))), num(fnum(v.get("base"), 3)),
                     num(fnum(v.get("tuned"), 3)), num(fsigned(diff(v.get("tuned"), v.get("base")), 3)),
                     num(fpct(pct_change(v.get("tuned"), v.get("base")), 1, signed=True))])
    return Table("tbl-twin-mlm", ["held-out text", "documents", "base MLM loss", "tuned MLM loss", "change",
                                  "change (%)"], rows, caption="Masked-LM loss before and after fine-tuning",
                 source=source(TWIN, TwinFiles.REPORT))


def twin_finding(ctx: ReportContext, mlm: dict) -> None:
    fin, gen = mlm.get("financial", {}), mlm.get("general", {})
    if not (isinstance(fin, dict) and isinstance(gen, dict) and finite(fin.get("base")) and finite(gen.get("base"))):
        return
    ctx.find("twin", (
        f"Fine-tuning {word_change(fin.get('tuned'), fin.get('base'), 'raised', 'lowered', 'kept')} the "
        f"held-out masked-LM loss on financial text from {fnum(fin.get('base'))} to {fnum(fin.get('tuned'))} "
        f"({fpct(pct_change(fin.get('tuned'), fin.get('base')), 1, True)}); on general text it "
        f"{word_change(gen.get('tuned'), gen.get('base'))} from {fnum(gen.get('base'))} to "
        f"{fnum(gen.get('tuned'))} ({fpct(pct_change(gen.get('tuned'), gen.get('base')), 1, True)})."),
        financial=fin, general=gen)


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
        f"financial documents of the training split ({fint(tw.get('financial_train_docs'))} documents"
        + (", after fitting a masked-LM head on the frozen base, which ships without one" if
           tw.get("base_had_mlm_head") is False else "") + "). The drift shows how far each block moved."))
    drift = (tw.get("drift", {}) or {}).get("tuned", {}) or {}  # per twin: the financial twin's blocks
    mlm = tw.get("eval_mlm_loss", {}) or {}
    hf = tw.get("head_fit") or {}
    if hf:
        sec.add(Para(f"Masked-LM head fitted on the frozen base: held-out loss {fnum(hf['curve'][0]['eval_loss'])} -> "
                     f"{fnum(hf.get('best_eval_loss'))} in {fint(hf.get('steps'))} steps ("
                     + ("converged" if hf.get("converged") else "not converged: stopped at twin.head_fit_max_steps")
                     + "). " + str(tw.get("eval_note") or ""), "note"))
    sec.add(drift_table(drift), mlm_table(mlm))
    if drift and mlm:
        from featevo.report.figures import twin_drift_and_loss

        p = ctx.fig_dir / ReportFiles.TWIN
        twin_drift_and_loss({k: v for k, v in drift.items() if isinstance(v, dict)},
                            {k: v for k, v in mlm.items() if isinstance(v, dict)}, p)
        sec.add(*ctx.figure_block(p, "Left: relative parameter drift per block. Right: held-out masked-LM loss "
                                     "of the base (blue) and tuned (orange) model.",
                                  "Twin parameter drift and MLM loss", "fig-twin"))
    twin_finding(ctx, mlm)
    return sec
