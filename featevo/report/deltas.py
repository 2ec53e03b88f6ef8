"""Section 5, activation deltas on the probe set: the domain-specific change of matched pairs per family of
comparisons, stage 03's claims (each against the seed pairs or the control twin), the top pairs selected on
half of the templates and estimated on the other half, the full-probe ranking, domain-selective latents per
SAE, and the study's four-panel figure."""

from __future__ import annotations

from featevo.layout import DELTAS, DeltasFiles, ReportFiles
from featevo.report.common import mean, num, pct_change, source
from featevo.report.context import ReportContext
from featevo.report.evidence import by_id, claims_table, fdist, find_claim, stat_label
from featevo.report.templates import MISSING, Para, Section, Table, fci, finite, fint, fnum, fp, fpct, fsig

FAMILY_HEADS = {"fine-tuning": "base vs tuned", "seed": "seed pairs (baseline)", "control": "base vs control twin",
                "planted": "tuned vs planted"}
COUNT_ROWS = ("matched_pairs", "discoveries", "toward_target", "toward_reference", "confirmed", "mean_abs_z",
              "sampling_discoveries")
FOUR_PANEL_CAPTION = ("The study's four-panel figure, corrected: (a) domain-specific change of the primary pairs "
                      "with the largest |z| and cluster-bootstrap intervals; (b) specialization of every matched "
                      "pair; (c) z per family, the seed pairs being the baseline; (d) per-category change of the top "
                      "pairs.")


def top_headers(domains: tuple[str, str]) -> list[str]:
    return ["pair", "latents, base → tuned", "class", "change (did)", "CI", "z", "calibrated q", "beyond seed",
            f"{domains[0]} change", f"{domains[1]} change", "type"]


HELD_OUT_HEADERS = ["rank (half A)", "pair", "latents, base → tuned", "z on half A", "change on half B", "CI",
                    "z on half B", "q on half B", "confirmed"]


def top_target_headers(domains: tuple[str, str]) -> list[str]:
    return ["SAE", "rank", "latent", "class", f"{domains[0]} score", "CI", f"{domains[1]} score", "specialization",
            "q", "matched latent", "pair change (did)"]


def _ds(ctx: ReportContext) -> dict:
    return ctx.up.deltas.summary or {}


def _fams(ctx: ReportContext) -> list[str]:
    fs = _ds(ctx).get("families") or {}
    return [f for f in FAMILY_HEADS if f in fs]


def intro(ctx: ReportContext) -> Para:
    alpha = _ds(ctx).get("alpha", ctx.cfg.deltas.alpha)
    t, r = ctx.domains
    return Para(
        "For a matched pair (latent a of one SAE, latent b of the other, each SAE on its own model), the primary "
        f"estimand is the **domain-specific change** did = ({t}_b − {t}_a) − ({r}_b − {r}_a): how much more the "
        f"pair's activation changed on {t} than on {r} probe sentences ({t} / {r}: mean sentence "
        f"activation over that domain). A latent that only fires more everywhere has did = 0; the raw {t} "
        f"change {t}_b − {t}_a is kept as a secondary column. Sentences of one template are not independent, so "
        "intervals come from a bootstrap of templates and the sampling test permutes the templates' domain labels. "
        "Each pair's z = did / SE is then compared with the z of every matched pair of the seed comparisons (two "
        f"SAEs of one model): Benjamini-Hochberg at q <= {fnum(alpha, 2)} on these calibrated p-values within a "
        "comparison gives the pairs changed **beyond seed noise**. Every family (seed pairs included, each "
        "calibrated against the other seed pairs) is counted by the same procedure.")


def counts_table(ctx: ReportContext) -> Table:
    fams = _fams(ctx)
    fs = _ds(ctx).get("families") or {}
    rows = [[stat_label(k, ctx.domains), *[num(fdist(fs[f].get(k), k)) for f in fams]] for k in COUNT_ROWS]
    cal = _ds(ctx).get("calibration") or {}
    notes = ["Each cell: mean over the family's comparisons [smallest–largest]. Beyond seed noise: seed-calibrated "
             f"BH discoveries; the seed baseline holds {fint(cal.get('null_pairs'))} matched seed pairs, so the "
             "smallest "
             "calibrated p is about 1 / (that + 1). Confirmed: of the top pairs selected on half of the templates, "
             "those significant on the other half. Sampling noise only: BH on the template permutation p, which "
             "ignores seed noise (what an uncalibrated analysis would report)."]
    notes += _power_note(ctx)
    return Table("tbl-delta-summary", ["", *[FAMILY_HEADS[f] for f in fams]], rows,
                 caption="Domain-specific changes of matched pairs per family of comparisons", notes=notes,
                 source=source(DELTAS, DeltasFiles.COMPARISON_COUNTS))


def _power_note(ctx: ReportContext) -> list[str]:
    """What one discovery of the primary comparison would need: the seed null's largest |z|, and whether BH over
    its matched pairs can reach a lone discovery at all."""
    ds = _ds(ctx)
    c = (ds.get("comparisons") or {}).get(ds.get("primary") or "") or {}
    if c.get("z_needed") is None:
        return []
    top = max((abs(r.get("z") or 0.0) for r in ds.get("top5_by_z") or []), default=None)
    lone = ("so one pair alone can be a discovery" if c.get("lone_discovery_attainable") else
            f"so no pair can be a discovery alone: BH over {fint(c.get('matched_pairs'))} pairs needs p <= "
            f"{fp(ds.get('alpha', 0.05) / max(c.get('matched_pairs') or 1, 1))}, below the smallest attainable p "
            f"{fp(c.get('min_p'))}; several pairs must pass together")
    seen = f"; its largest |z| is {fnum(top, 2)}" if top is not None else ""
    return [f"Power of {c.get('comparison')}: a pair needs |z| > {fnum(c.get('z_needed'), 2)} (the largest |z| among "
            f"the seed pairs) for the smallest calibrated p{seen}; {lone}."]


def held_out_table(ctx: ReportContext) -> Table:
    rows = []
    for r in ctx.up.deltas.held_out:
        rows.append([num(fint(r["rank"])), num(fint(r["pair_id"])),
                     ctx.pair_cell(r["base_latent"], r["tuned_latent"]), num(fnum(r["z_selection"], 2)),
                     num(fsig(r["did_held_out"], signed=True)), num(fci(r["did_ci_low"], r["did_ci_high"])),
                     num(fnum(r["z_held_out"], 2)), num(fp(r["q_held_out"])),
                     "yes" if r["confirmed"] else "no"])
    ds = _ds(ctx)
    notes = [f"Selection and estimation on separate data: the templates were split in halves stratified by category "
             f"({fint((ds.get('probe') or {}).get('half_a', {}).get('templates'))} / "
             f"{fint((ds.get('probe') or {}).get('half_b', {}).get('templates'))} templates); the pairs are the "
             f"{fint(len(rows))} with the largest |z| on half A, and every other number is from half B, so the "
             "table is not a winner's curse. q: BH among the selected pairs of the half-B p calibrated against the "
             "seed pairs' half-B z."] + ctx.dense_note()
    return Table("tbl-held-out", HELD_OUT_HEADERS, rows, caption="Largest domain-specific changes, base vs tuned, "
                 "re-estimated on held-out templates", notes=notes, source=source(DELTAS, DeltasFiles.HELD_OUT))


def ranked_rows(ctx: ReportContext) -> list[dict]:
    """Feature-table rows of matched pairs: discoveries first, then by |z|."""
    rows = [r for r in ctx.up.deltas.feature_table if finite(r["did"])]
    return sorted(rows, key=lambda r: (not r["discovered"], -abs(r["z"] or 0.0)))


def top_table(ctx: ReportContext, rows: list[dict]) -> Table:
    n_rows = ctx.cfg.report.table_rows
    trs = [[num(fint(r["pair_id"])), ctx.pair_cell(r["base_latent"], r["tuned_latent"]),
            r["class"] or MISSING, num(fsig(r["did"], signed=True)), num(fci(r["did_ci_low"], r["did_ci_high"])),
            num(fnum(r["z"], 2)), num(fp(r["q_calibrated"])), "yes" if r["discovered"] else "no",
            num(fsig(r["delta_target"], signed=True)), num(fsig(r["delta_reference"], signed=True)),
            r["type"] or MISSING] for r in rows[:n_rows]]
    notes = [f"All {fint(len(rows))} matched pairs of the primary comparison on the whole probe, seed-calibrated "
             f"discoveries first, then by |z|; the first {fint(min(n_rows, len(rows)))} shown, all in "
             f"`{source(DELTAS, DeltasFiles.FEATURE_TABLE)}`. These were ranked on the data they are estimated on: "
             "the held-out table above is the unbiased view. "
             f"{ctx.domains[0]} / {ctx.domains[1]} change: the secondary raw changes of the {ctx.domains[0]} and "
             f"{ctx.domains[1]} scores. Type: toward-target / toward-reference (a discovery toward the "
             f"{ctx.domains[0]} / {ctx.domains[1]} domain), stable(-target|-reference)."] + ctx.dense_note()
    return Table("tbl-top-deltas", top_headers(ctx.domains), trs,
                 caption="Domain-specific change of the primary comparison's matched pairs (whole probe)",
                 notes=notes, source=source(DELTAS, DeltasFiles.FEATURE_TABLE))


def domain_table(ctx: ReportContext) -> Table:
    rows = [[r["sae"], r["model"], num(fint(r["live_latents"])), num(fint(r["target_latents"])),
             num(fint(r["reference_latents"]))] for r in ctx.up.deltas.domain_latents]
    t, r = ctx.domains
    return Table("tbl-domain-latents", ["SAE", "model", "live latents", f"{t} latents", f"{r} latents"], rows,
                 caption="Domain-selective latents per SAE (cluster permutation of template domain labels, BH)",
                 notes=[f"A latent is {t} ({r}) when {t} − {r} is positive (negative) at BH q <= alpha "
                        "across the SAE's latents. The SAEs of one model differ only in their seed: their spread is "
                        "the baseline for a count of one model against another."],
                 source=source(DELTAS, DeltasFiles.DOMAIN_LATENTS))


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
                        "so this measures how strongly they fire). Descriptive: no test. Per-latent values (every "
                        "model's first SAE) are in the source."],
                 source=source(DELTAS, DeltasFiles.PER_CATEGORY))


def top_features_table(ctx: ReportContext) -> Table:
    """The most target-domain latents of the base and tuned SAEs, each with its matched pair's change."""
    per = max(1, ctx.cfg.report.table_rows // 2)
    rows, n_by, shown = [], {}, []
    for r in ctx.up.deltas.top_features:
        m = r["model"] or MISSING
        n_by[m] = n_by.get(m, 0) + 1
        if n_by[m] > per:
            continue
        shown.append(r)
        rows.append([str(m), num(fint(r["rank"])), ctx.latent_cell(str(m), r["latent"]), r["class"] or MISSING,
                     num(fsig(r["target_score"])), num(fci(r["target_ci_low"], r["target_ci_high"])),
                     num(fsig(r["reference_score"])), num(fnum(r["specialization"], 2)), num(fp(r["q_value"])),
                     ctx.latent_cell("tuned" if m == "base" else "base", r["matched_latent"]),
                     num(fsig(r["did"], signed=True))])
    t, g = ctx.domains
    notes = [f"Up to {fint(per)} latents per SAE whose {t} score exceeds their {g} score significantly "
             f"(cluster permutation of the templates' domain labels, BH), ranked by {t} − {g}; q: that test's "
             "BH-adjusted p-value. Matched latent / pair change: the decoder-matched latent of the other SAE and "
             "the pair's domain-specific change (tuned minus base). Correction for selection: these latents are "
             "ranked on the same sentences their scores are estimated on, so the scores of the top rows are biased "
             "upward (winner's curse); q is adjusted across all of the SAE's latents and does not depend on the "
             "ranking."]
    if any(r["matched_latent"] is None for r in shown):
        notes.append(f"{MISSING} in matched latent / change: the latent has no shared or shifted partner.")
    notes += ctx.dense_note()
    return Table("tbl-top-target", top_target_headers(ctx.domains), rows, caption=f"Most {t} latents of each SAE",
                 notes=notes, source=source(DELTAS, DeltasFiles.TOP_FEATURES))


def deltas_findings(ctx: ReportContext) -> None:
    claims = _ds(ctx).get("claims") or []
    find_claim(ctx, "deltas", by_id(claims, "domain_specific_change"))
    find_claim(ctx, "deltas_control", by_id(claims, "target_specific_beyond_control"))
    find_claim(ctx, "deltas_control_twin", by_id(claims, "control_change"))  # a comparison: the control twin
    find_claim(ctx, "deltas_held_out", by_id(claims, "held_out_confirmation"))
    find_claim(ctx, "deltas_size", by_id(claims, "pair_change_size"))
    find_claim(ctx, "domain_latents", by_id(claims, "target_latents:tuned_vs_base"))
    find_claim(ctx, "domain_latents_control", by_id(claims, "target_latents:tuned_vs_control"))
    bt = _ds(ctx).get("base_vs_tuned") or {}
    r = bt.get("corr_delta_target_delta_reference")
    if finite(r):
        t, g = ctx.domains
        reading = (f"so the raw {t} change largely follows how much a latent fires overall, which the "
                   "domain-specific change subtracts" if r >= 0.5 else
                   f"so the raw {t} change is only loosely tied to overall firing here")
        ctx.find("raw_deltas", (
            f"Across the {fint(bt.get('matched_pairs'))} matched pairs of the primary comparison, the raw change of "
            f"the {t} score correlates with the change of the {g} score at r = {fnum(r, 2)} (mean "
            f"{fsig(bt.get('mean_delta_target'), signed=True)} on {t}, "
            f"{fsig(bt.get('mean_delta_reference'), signed=True)} on {g} text), {reading}."),
            corr_delta_target_delta_reference=r, mean_delta_target=bt.get("mean_delta_target"),
            mean_delta_reference=bt.get("mean_delta_reference"), matched_pairs=bt.get("matched_pairs"))


def deltas_section(ctx: ReportContext) -> Section:
    d = ctx.up.deltas
    sec = Section("deltas", "Activation deltas on the probe set")
    sec.add(intro(ctx))
    if _ds(ctx).get("families"):
        sec.add(counts_table(ctx))
    claims = _ds(ctx).get("claims") or []
    if claims:
        sec.add(claims_table("tbl-delta-claims", "Claims of stage 03, each against its baseline", claims,
                             source(DELTAS, DeltasFiles.SUMMARY), ctx.domains))
    if len(d.held_out):
        sec.add(held_out_table(ctx))
    rows = ranked_rows(ctx)
    sec.add(top_table(ctx, rows))
    if len(d.domain_latents):
        sec.add(domain_table(ctx))
    if len(d.top_features):
        sec.add(top_features_table(ctx))
    if len(d.per_category):
        sec.add(per_category_table(ctx))
    p = ctx.copy_figure(ctx.up.dirs[DELTAS] / DeltasFiles.FOUR_PANEL, ReportFiles.FOUR_PANEL)
    sec.add(*ctx.figure_block(p, FOUR_PANEL_CAPTION, "four-panel figure of activation deltas", "fig-four-panel"))
    deltas_findings(ctx)
    return sec
