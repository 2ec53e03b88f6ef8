"""Section 2, SAE quality: held-out reconstruction and fidelity of every SAE, the loss figure and the
training curves of stage 01."""

from __future__ import annotations

from typing import Optional

from featevo.layout import TRAIN, ReportFiles, TrainFiles
from featevo.report.common import dig, num, source
from featevo.report.context import ReportContext
from featevo.report.templates import MISSING, Section, Table, finite, fint, fnum, fpct

QUALITY_HEADERS = ["SAE", "model", "seed", "FVU", "explained variance", "L0", "dead latents", "clean loss", "SAE loss",
                   "zero-ablation loss", "delta-CE (nats)", "KL to clean (nats)", "loss recovered vs mean ablation",
                   "loss recovered, [MASK] positions", "loss recovered"]


def _fidelity_cells(f: dict) -> list:
    """The fidelity columns of one SAE: the splice at real-token positions, then the [MASK]-position one apart."""
    return [num(fnum(f.get("clean_loss"), 3)), num(fnum(f.get("sae_loss"), 3)),
            num(fnum(f.get("zero_ablation_loss"), 3)), num(fnum(f.get("delta_ce_nats"), 3)),
            num(fnum(f.get("kl_to_clean_nats"), 3)), num(fpct(f.get("loss_recovered_vs_mean_ablation"), 1)),
            num(fpct(f.get("loss_recovered_mask_positions"), 1)), num(fpct(f.get("loss_recovered"), 1))]


def _fidelity_notes(summary: dict, names: list[str]) -> list[str]:
    """How the fidelity columns were measured (from the first SAE that has a loss)."""
    f = next((summary[n].get("fidelity") or {} for n in names if (summary[n].get("fidelity") or {}).get("loss")), {})
    if not f:
        return []
    if f.get("head") != "mlm":
        notes = ["The SAE's reconstruction is spliced in at every kept position (the classifier's inputs have no "
                 "[MASK]); its loss is the KL divergence to the clean output, so delta-CE does not apply."]
    else:
        notes = ["SAE loss, zero-ablation loss, delta-CE (SAE loss - clean loss), KL and loss recovered: the SAE's "
                 "reconstruction spliced in at the real-token positions only (the rows SAEs train on); the loss is "
                 "read at the masked-LM positions, whose [MASK] input rows keep their clean values. Loss recovered, "
                 "[MASK] positions: the splice at the [MASK] input rows only, rows no SAE trains on (reported apart, "
                 "not checked). KL: mean KL divergence of the spliced output distribution from the clean one at the "
                 "loss positions."]
    if f.get("mean_ablation"):
        notes.append(f"Loss recovered vs mean ablation: against the spliced rows replaced by the {f['mean_ablation']} "
                     "instead of zeros.")
    return notes


def quality_table(ctx: ReportContext) -> tuple[Table, list[dict], Optional[str]]:
    """The table, the rows of the loss figure and the name of the loss."""
    summary = ctx.up.sae_summary
    rows, fig_rows, undefined, loss_name = [], [], [], None
    for name in ctx.sae_names():
        s = summary[name]
        f = s.get("fidelity", {}) or {}
        loss_name = loss_name or f.get("loss")
        rec = f.get("loss_recovered")
        if rec is None and f.get("head", "none") != "none":
            undefined.append(name)
        rows.append([name, s.get("model", MISSING), num(fint(s.get("seed"))), num(fnum(s.get("fvu"), 3)),
                     num(fnum(s.get("explained_variance"), 3)), num(fnum(s.get("l0"), 1)),
                     num(fpct(s.get("dead_fraction"), 1)), *_fidelity_cells(f)])
        fig_rows.append({"name": name, "clean": f.get("clean_loss"), "sae": f.get("sae_loss"),
                         "zero": f.get("zero_ablation_loss"), "recovered": rec})
    notes = ["FVU: fraction of variance unexplained on the held-out split (explained variance = 1 - FVU). "
             "L0: active latents per token. Loss recovered = (zero-ablation loss - SAE loss) / "
             "(zero-ablation loss - clean loss).", *_fidelity_notes(summary, ctx.sae_names())]
    dw = dig(summary, "base", "dead_window")
    if dw:
        notes.append(f"Dead latents: {dw}.")
    if loss_name:
        notes.append(f"Loss: {loss_name}.")
    if undefined:
        notes.append(f"{MISSING} for {', '.join(undefined)}: loss recovered is undefined because zero-ablating "
                     "the layer did not raise the loss above the clean loss.")
    no_head = [n for n in ctx.sae_names() if (summary[n].get("fidelity") or {}).get("head") == "none"]
    if no_head:
        notes.append(f"{MISSING} for {', '.join(no_head)}: the model has no head to measure a loss with.")
    table = Table("tbl-sae-quality", QUALITY_HEADERS, rows, caption="Held-out reconstruction and fidelity",
                  notes=notes, source=source(TRAIN, TrainFiles.SUMMARY))
    return table, fig_rows, loss_name


def _nats_clause(fb: dict, ft: dict) -> str:
    """', delta-CE x and y nats against a zero-ablation cost of u and v nats': the scale of the ratio (a small
    zero-ablation cost makes loss recovered ill-conditioned)."""
    dce = [f.get("delta_ce_nats") for f in (fb, ft)]
    gap = [f["zero_ablation_loss"] - f["clean_loss"] if finite(f.get("zero_ablation_loss")) and
           finite(f.get("clean_loss")) else None for f in (fb, ft)]
    if not all(finite(v) for v in (*dce, *gap)):
        return ""
    return (f", delta-CE {fnum(dce[0], 3)} and {fnum(dce[1], 3)} nats against a zero-ablation cost of "
            f"{fnum(gap[0], 3)} and {fnum(gap[1], 3)} nats")


def quality_finding(ctx: ReportContext, loss_name: Optional[str]) -> None:
    b, t = ctx.up.sae_summary.get("base", {}), ctx.up.sae_summary.get("tuned", {})
    if not (b and t):
        return
    lb, lt = dig(b, "fidelity", "loss_recovered"), dig(t, "fidelity", "loss_recovered")
    text = (f"The base SAE explains {fpct(b.get('explained_variance'))} of the variance of the hooked layer "
            f"(FVU {fnum(b.get('fvu'))}), the tuned SAE {fpct(t.get('explained_variance'))} (FVU "
            f"{fnum(t.get('fvu'))}), at L0 {fnum(b.get('l0'), 1)} and {fnum(t.get('l0'), 1)}")
    if finite(lb) and finite(lt):
        text += (f"; spliced into their models at the real-token positions they recover {fpct(lb)} and {fpct(lt)} "
                 f"of the {'loss' if not loss_name else loss_name}")
        text += _nats_clause(b.get("fidelity") or {}, t.get("fidelity") or {})
        key = "loss_recovered_mask_positions"
        mb, mt = dig(b, "fidelity", key), dig(t, "fidelity", key)
        text += (f" ({fpct(mb)} and {fpct(mt)} spliced at the [MASK] input rows instead, rows no SAE trains on)."
                 if finite(mb) and finite(mt) else ".")
    else:
        text += "; loss recovered is undefined for at least one of them (see the SAE quality table)."
    ctx.find("sae_quality", text, base_fvu=b.get("fvu"), tuned_fvu=t.get("fvu"), base_loss_recovered=lb,
             tuned_loss_recovered=lt)
    fidelity_check(ctx, {n: dig(ctx.up.sae_summary.get(n) or {}, "fidelity", "loss_recovered")
                         for n in ctx.sae_names()}, loss_name)


def fidelity_check(ctx: ReportContext, recovered: dict, loss_name: Optional[str]) -> None:
    """A check finding: does every SAE (name -> loss recovered at real-token positions, the primary splice) recover at
    least ``report.min_loss_recovered`` of its model's loss? SAEs whose loss recovered is undefined are left out (the
    quality table says why); the [MASK]-position splice is not checked (no SAE trains on those rows)."""
    floor = ctx.cfg.report.min_loss_recovered
    vals = {k: v for k, v in recovered.items() if finite(v)}
    if floor <= 0 or not vals:
        return
    low = [k for k, v in vals.items() if v < floor]
    text = (f"SAE fidelity: {len(vals) - len(low)} of {len(vals)} SAEs recover at least {fpct(floor)} of the "
            f"{loss_name or 'loss'} when spliced into their model at the real-token positions "
            "(report.min_loss_recovered); ")
    text += ("the check passes." if not low else
             f"the check fails for {', '.join(f'{k} ({fpct(vals[k])})' for k in low)}: at real-token positions their "
             "latents miss part of what the model computes, so a latent absent from them may be a reconstruction gap "
             "rather than a change of the model.")
    ctx.find("sae_fidelity", text, supported=not low, role="check", lens="SAE fidelity", floor=floor,
             failing=low, loss_recovered=vals)


def sae_section(ctx: ReportContext) -> Section:
    sec = Section("sae-quality", "SAE quality")
    table, fig_rows, loss_name = quality_table(ctx)
    sec.add(table)
    if any(finite(r["clean"]) for r in fig_rows):
        from featevo.report.figures import sae_losses

        p = ctx.fig_dir / ReportFiles.SAE_LOSSES
        sae_losses(fig_rows, loss_name or "loss", p)
        sec.add(*ctx.figure_block(p, "Loss of each model with its SAE's reconstruction spliced in at the "
                                     "hooked layer's real-token positions, against the clean model and those "
                                     "positions zero-ablated.",
                                  "Clean, SAE-spliced and zero-ablated loss per SAE", "fig-sae-losses", 940))
    curves = ctx.copy_figure(ctx.up.dirs[TRAIN] / TrainFiles.CURVES, ReportFiles.TRAINING_CURVES)
    sec.add(*ctx.figure_block(curves, "Training curves of every SAE (base blue, tuned orange, seed baseline "
                                      "grey dashed): FVU on the training batch, L0 and the dead fraction.",
                              "SAE training curves", "fig-training-curves"))
    quality_finding(ctx, loss_name)
    return sec
