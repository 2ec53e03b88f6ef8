"""The opening section: headline tiles and the findings, sentences the other sections generated from
the stage outputs (so the text cannot disagree with the tables)."""

from __future__ import annotations

from featevo.report.common import dig, first, pct_change
from featevo.report.context import ReportContext
from featevo.report.templates import Bullets, Para, Section, Tile, Tiles, finite, fint, fnum, fpct


def _twin_tile(ctx: ReportContext) -> list[Tile]:
    tw = ctx.up.twin
    fin = dig(tw, "eval_mlm_loss", "financial") if isinstance(tw, dict) else None
    gen = dig(tw, "eval_mlm_loss", "general") if isinstance(tw, dict) else None
    if not (isinstance(fin, dict) and finite(pct_change(fin.get("tuned"), fin.get("base")))):
        return []
    sub = (f"general text {fpct(pct_change(gen.get('tuned'), gen.get('base')), 1, True)}"
           if isinstance(gen, dict) else "")
    return [Tile(fpct(pct_change(fin.get("tuned"), fin.get("base")), 1, True),
                 "MLM loss on financial text after tuning", sub)]


def tiles(ctx: ReportContext) -> list[Tile]:
    """Headline numbers (each also in a table below), tuned against its reference."""
    up, out = ctx.up, []
    b, t = up.sae_summary.get("base", {}), up.sae_summary.get("tuned", {})
    lb, lt = dig(b, "fidelity", "loss_recovered"), dig(t, "fidelity", "loss_recovered")
    if finite(lb) or finite(lt):
        out.append(Tile(f"{fpct(lb)} / {fpct(lt)}", "loss recovered by the SAEs", "base / tuned model"))
    out += _twin_tile(ctx)
    cmp_ = up.compare.summary
    bt = cmp_.get("base_vs_tuned") or {}
    nulls = cmp_.get("null_baselines") or {}
    nb = nulls.get(next(iter(nulls), None)) or {}
    if finite(bt.get("shared_fraction")):
        out.append(Tile(fpct(bt.get("shared_fraction")), "matched pairs shared, base vs tuned",
                        f"seed baseline {fpct(nb.get('shared_fraction'))}" if nb else "no seed baseline"))
    ds = up.deltas.summary.get("base_vs_tuned") or {}
    dn = first(up.deltas.summary.get("null_baselines") or {})
    if finite(ds.get("significant_after_bh")):
        out.append(Tile(f"{fint(ds.get('significant_after_bh'))} / {fint(ds.get('matched_pairs'))}",
                        "pairs whose financial score changed (BH)",
                        f"seed baseline {fint(dn.get('significant_after_bh'))} / {fint(dn.get('matched_pairs'))}"
                        if dn else "no seed baseline"))
    st = ctx.score_stats()
    if finite(dig(st, "base", "detection")) and finite(dig(st, "tuned", "detection")):
        sub = (f"shuffled labels {fnum(dig(st, 'base', 'detection_shuffled'), 2)} / "
               f"{fnum(dig(st, 'tuned', 'detection_shuffled'), 2)}")
        out.append(Tile(f"{fnum(st['base']['detection'], 2)} / {fnum(st['tuned']['detection'], 2)}",
                        "label detection score", sub + " (base / tuned)"))
    return out


def findings_section(ctx: ReportContext) -> Section:
    """Built last: it lists the findings every other section has added."""
    headline = tiles(ctx)
    return Section("findings", "Findings", [
        *([Tiles(headline)] if headline else []),
        Para("Each statement below is generated from the stage outputs when the report is built; the numbers "
             "are the ones in the tables further down, so the text cannot disagree with the data.", "note"),
        Bullets([f.text for f in ctx.findings] or ["No findings could be computed."], "finding"),
    ])
