"""Section 5, activation deltas on the probe set: stage 03's summary against the seed baseline, the
per-category means, the largest changes of matched pairs, each SAE's most financial latents and the
four-panel figure."""

from __future__ import annotations

from typing import Any

from featevo.layout import DELTAS, DeltasFiles, ReportFiles
from featevo.report.common import first, frac, mean, num, pct_change, source
from featevo.report.context import ReportContext
from featevo.report.templates import (
    MISSING, Para, Section, Table, fci, finite, fint, fnum, fp, fpct, fsig,
)

FOUR_PANEL_CAPTION = ("The study's four-panel figure, corrected: matched pairs instead of equal indices, "
                      "bootstrap CIs, BH-adjusted tests and the seed baseline.")
SUMMARY_METRICS = (
    ("matched pairs", "matched_pairs", fint), ("financial score rose", "positive_change", fint),
    ("financial score fell", "negative_change", fint), ("significant after BH", "significant_after_bh", fint),
    ("... rose", "significant_positive", fint), ("... fell", "significant_negative", fint),
    ("CI excludes zero", "ci_excludes_zero", fint), ("mean change", "mean_delta", lambda x: fsig(x, signed=True)),
    ("mean |change|", "mean_abs_delta", fsig), ("95th percentile of |change|", "p95_abs_delta", fsig),
)
TOP_DELTA_HEADERS = ["pair", "latents, base → tuned", "class", "base fin. score", "tuned fin. score", "change", "CI",
                     "change (%)", "specialization", "q", "sig.", "type"]
TOP_FINANCIAL_HEADERS = ["SAE", "rank", "latent", "class", "fin. score", "CI", "gen. score", "specialization", "q",
                         "matched latent", "change"]


def delta_rows(ctx: ReportContext) -> list[dict]:
    """Feature-table rows of matched pairs ordered by |delta|, largest first."""
    rows = [r for r in ctx.up.deltas.feature_table if finite(r["delta_matched"])]
    return sorted(rows, key=lambda r: -abs(r["delta_matched"]))


def delta_summary_tables(ctx: ReportContext) -> list:
    ds = ctx.up.deltas.summary
    bt = ds.get("base_vs_tuned") or {}
    nulls = ds.get("null_baselines") or {}
    null_name = next(iter(nulls), None)
    nb = nulls.get(null_name) or {}
    out = []
    if bt:
        rows = [[name, num(f(bt.get(key))), num(f(nb.get(key)) if nb else MISSING)] for name, key, f in SUMMARY_METRICS]
        notes = []
        if nb and not nb.get("matched_pairs"):
            notes.append(f"{MISSING} in the seed baseline: it has no shared or shifted pairs, so no changes to "
                         "measure.")
        if not nb:
            notes.append(f"{MISSING}: no seed-baseline SAE (sae.seeds = 1).")
        seed_head = f"seed baseline (base vs {null_name})" if null_name else "seed baseline"
        out.append(Table("tbl-delta-summary", ["", "base vs tuned", seed_head], rows,
                         caption="Changes in financial score of matched (shared or shifted) pairs", notes=notes,
                         source=source(DELTAS, DeltasFiles.SUMMARY)))
    fin, gen = ds.get("financial_latents") or {}, ds.get("general_latents") or {}
    if fin or gen:
        rows = [[side, num(fint(fin.get(side))), num(fint(gen.get(side)))] for side in list(fin or gen)]
        out.append(Table("tbl-domain-latents", ["SAE", "financial latents", "general latents"], rows,
                         caption="Domain-selective latents (financial vs general probe sentences, BH-adjusted "
                                 "permutation test)", source=source(DELTAS, DeltasFiles.SUMMARY)))
    return out


def per_category_table(ctx: ReportContext) -> Table:
    """per_category.csv averaged over latents: one row per probe category."""
    agg: dict[str, dict] = {}
    for r in ctx.up.deltas.per_category:
        a = agg.setdefault(r["category"], {"domain": r["domain"], "n": r["n_sentences"], "act": {}})
        if finite(r["mean_activation"]):
            a["act"].setdefault(r["model"], []).append(r["mean_activation"])
    rows = []
    for cat, a in agg.items():
        b, t = mean(a["act"].get("base", [])), mean(a["act"].get("tuned", []))
        rows.append([str(cat), str(a["domain"] or MISSING), num(fint(a["n"])), num(fsig(b)), num(fsig(t)),
                     num(fpct(pct_change(t, b), 1, True))])
    return Table("tbl-per-category", ["probe category", "domain", "sentences", "base: mean activation",
                                      "tuned: mean activation", "change"], rows,
                 caption="Activation per probe category, averaged over all latents of each SAE",
                 notes=["Mean activation: a latent's mean activation over a sentence's tokens, averaged over the "
                        "category's sentences and then over the SAE's latents (TopK fixes how many latents fire, "
                        "so this measures how strongly they fire). Per-latent values are in the source."],
                 source=source(DELTAS, DeltasFiles.PER_CATEGORY))


def top_deltas_table(ctx: ReportContext, rows: list[dict]) -> Table:
    """The study's table, corrected: the matched pairs with the largest change in financial score."""
    n_rows = ctx.cfg.report.table_rows
    trs = []
    for r in rows[:n_rows]:
        sig = r["significant"]
        trs.append([
            num(fint(r["pair_id"])), num(f"{fint(r['base_latent'])} → {fint(r['tuned_latent'])}"),
            r["class"] or MISSING, num(fsig(r["base_fin_score"])), num(fsig(r["tuned_fin_score"])),
            num(fsig(r["delta_matched"], signed=True)), num(fci(r["delta_ci_low"], r["delta_ci_high"])),
            num(fpct(frac(r["change_pct_matched"]), 1, True)),
            num(fnum(r["base_specialization"], 2) + " → " + fnum(r["tuned_specialization"], 2)),
            num(fp(r["q_value"])), "yes" if sig is True else "no" if sig is False else MISSING,
            r["type"] or MISSING,
        ])
    notes = [f"The {fint(min(n_rows, len(rows)))} matched pairs with the largest |change| of "
             f"{fint(len(rows))}; all pairs are in `{source(DELTAS, DeltasFiles.FEATURE_TABLE)}`. CI: "
             f"{fpct(ctx.up.deltas.summary.get('ci', ctx.cfg.deltas.ci), 0)} bootstrap interval. Specialization: "
             "(fin - gen) / (fin + gen)."]
    if any(r["change_pct_matched"] is None for r in rows[:n_rows]):
        notes.append(f"{MISSING} in change (%): the base score is 0, so a relative change is undefined.")
    return Table("tbl-top-deltas", TOP_DELTA_HEADERS, trs,
                 caption="Largest changes in financial score, matched pairs (the study's table, corrected)",
                 notes=notes, source=source(DELTAS, DeltasFiles.FEATURE_TABLE))


def top_features_table(ctx: ReportContext) -> Table:
    """top_financial_features.csv (the study's 'top financial features' table, corrected): the most
    financial latents of each SAE, each with its matched partner's change."""
    per = max(1, ctx.cfg.report.table_rows // 2)
    rows, n_by, shown = [], {}, []
    for r in ctx.up.deltas.top_features:
        m = r["model"] or MISSING
        n_by[m] = n_by.get(m, 0) + 1
        if n_by[m] > per:
            continue
        shown.append(r)
        rows.append([str(m), num(fint(r["rank"])), num(fint(r["latent"])), r["class"] or MISSING,
                     num(fsig(r["fin_score"])), num(fci(r["fin_ci_low"], r["fin_ci_high"])),
                     num(fsig(r["gen_score"])), num(fnum(r["specialization"], 2)), num(fp(r["q_value"])),
                     num(fint(r["matched_latent"])), num(fsig(r["delta_matched"], signed=True))])
    notes = [f"Up to {fint(per)} latents per SAE whose financial score exceeds their general score significantly "
             "(domain-label permutation test, BH), ranked by fin - gen; q: that test's BH-adjusted p-value. "
             "Matched latent / change: the decoder-matched latent of the other SAE and the tuned-minus-base "
             "change of the pair."]
    if any(r["matched_latent"] is None for r in shown):
        notes.append(f"{MISSING} in matched latent / change: the latent has no shared or shifted partner.")
    return Table("tbl-top-financial", TOP_FINANCIAL_HEADERS, rows, caption="Most financial latents of each SAE",
                 notes=notes, source=source(DELTAS, DeltasFiles.TOP_FEATURES))


def _pair_desc(r: dict) -> str:
    return (f"pair {fint(r['pair_id'])} (base latent {fint(r['base_latent'])} → tuned latent "
            f"{fint(r['tuned_latent'])}), change {fsig(r['delta_matched'], signed=True)} "
            f"{fci(r['delta_ci_low'], r['delta_ci_high'])}")


def _share(k: Any, n: Any) -> str:
    return f" ({fpct(k / n)})" if finite(k) and finite(n) and n > 0 else ""


def deltas_finding(ctx: ReportContext, rows: list[dict]) -> None:
    ds = ctx.up.deltas.summary
    bt = ds.get("base_vs_tuned") or {}
    nb = first(ds.get("null_baselines") or {})
    alpha = ds.get("alpha", ctx.cfg.deltas.alpha)
    n_sig = bt.get("significant_after_bh", sum(1 for r in rows if r["significant"] is True))
    n_pairs = bt.get("matched_pairs", len(rows))
    up_ = max(rows, key=lambda r: r["delta_matched"])
    dn_ = min(rows, key=lambda r: r["delta_matched"])
    text = (f"{fint(n_sig)} of {fint(n_pairs)}{_share(n_sig, n_pairs)} matched pairs change their financial "
            f"score significantly at BH q <= {fnum(alpha, 2)}")
    if nb and nb.get("matched_pairs"):
        text += (f", against {fint(nb.get('significant_after_bh'))} of {fint(nb.get('matched_pairs'))}"
                 f"{_share(nb.get('significant_after_bh'), nb.get('matched_pairs'))} between two seeds of the "
                 f"base SAE")
    elif nb:
        text += " (the seed baseline has no matched pairs to compare)"
    text += f". Largest increase: {_pair_desc(up_)}"
    if dn_["delta_matched"] < 0:
        text += f"; largest decrease: {_pair_desc(dn_)}."
    else:
        text += "; no pair decreased."
    ctx.find("deltas", text, significant=n_sig, pairs=n_pairs, top_increase=up_["pair_id"],
             top_decrease=dn_["pair_id"], seed_significant=nb.get("significant_after_bh"),
             seed_pairs=nb.get("matched_pairs"))


def domain_finding(ctx: ReportContext) -> None:
    ds = ctx.up.deltas.summary
    fin = ds.get("financial_latents") or {}
    if finite(fin.get("base")) and finite(fin.get("tuned")):
        gen = ds.get("general_latents") or {}
        ctx.find("domain_latents", (
            f"{fint(fin['tuned'])} latents of the tuned SAE prefer financial over general probe sentences "
            f"significantly, against {fint(fin['base'])} of the base SAE (general text: {fint(gen.get('tuned'))} "
            f"and {fint(gen.get('base'))})."), financial=fin, general=gen)


def deltas_section(ctx: ReportContext) -> Section:
    d = ctx.up.deltas
    sec = Section("deltas", "Activation deltas on the probe set")
    alpha = d.summary.get("alpha", ctx.cfg.deltas.alpha)
    sec.add(Para(
        "The financial score of a latent is its mean activation on the financial probe sentences. The study "
        "subtracted the score of base latent i from tuned latent i; here the change is tuned minus base for "
        "**matched pairs**, with a bootstrap confidence interval over probe sentences and a permutation test "
        f"whose p-values are adjusted across pairs (Benjamini-Hochberg, q < {fnum(alpha, 2)} is significant)."))
    sec.add(*delta_summary_tables(ctx))
    if len(d.per_category):
        sec.add(per_category_table(ctx))
    rows = delta_rows(ctx)
    sec.add(top_deltas_table(ctx, rows))
    if len(d.top_features):
        sec.add(top_features_table(ctx))
    p = ctx.copy_figure(ctx.up.dirs[DELTAS] / DeltasFiles.FOUR_PANEL, ReportFiles.FOUR_PANEL)
    sec.add(*ctx.figure_block(p, FOUR_PANEL_CAPTION, "four-panel figure of activation deltas", "fig-four-panel"))
    if rows:
        deltas_finding(ctx, rows)
    domain_finding(ctx)
    return sec
