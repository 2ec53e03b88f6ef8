"""Section 6, labelled features side by side: stage 04's labels and scores per latent, and the scores
of each SAE against the shuffled-label baseline."""

from __future__ import annotations

from featevo.layout import INTERPRET, InterpretFiles, ReportFiles
from featevo.report.common import SAE_ORDER, num, plural, source, split_label, text_or_missing
from featevo.report.context import ReportContext
from featevo.report.quality import legend
from featevo.report.templates import MISSING, Section, Table, fci, finite, fint, fnum, fp, fpct, fsig, fsigned
from featevo.scorers import SCORERS, label_scorers, names, shown_scorers



def label_headers() -> list[str]:
    """The label table's headings: per SAE its latent, label and a column per shown scorer (featevo.scorers)."""
    shorts = [SCORERS[m].short for m in shown_scorers()]
    return (["pair", "class"] + [h for side in SAE_ORDER for h in (f"{side} latent", f"{side} label", *shorts)]
            + ["domain-specific change", "CI"])


def score_headers() -> list[str]:
    return ["SAE", "latents", "labelled", "failed"] + [h for m in shown_scorers()
                                                       for h in (m, "shuffled", "beats shuffled")]


def _label_ok(r: dict, side: str) -> bool:
    return split_label(r[f"{side}_label"])[0] != MISSING


def label_notes(ctx: ReportContext, rows: list[dict], failed: bool) -> list[str]:
    n = ctx.cfg.report.table_rows
    notes = ["det. / fuzz.: Delphi's detection and fuzzing scores (balanced accuracy of an LLM predicting from "
             "the label which contexts activate the latent; 0.5 is chance)."]
    if failed:
        notes.append(f"{MISSING} as a label: no usable explanation (the LLM's reply did not parse after retries, or "
                     "the latent never fires); its scores are then undefined too. The reason is on its card and in "
                     f"`{source(INTERPRET, InterpretFiles.LABELS)}`.")
    shown = shown_scorers()
    not_run = [m for m in shown if m not in ctx.scorers_run()]
    if not_run:
        notes.append(f"{' and '.join(not_run)}: not run in this config (`interpret.scorers`), so its column is "
                     f"{MISSING}.")
    res = ctx.up.interpret
    ran = [m for m in shown if m not in not_run]
    if any(_label_ok(r, side) and any(res.score(side, r[f"{side}_latent"], m) is None for m in ran)
           for r in rows for side in SAE_ORDER):
        notes.append(f"{MISSING} as a score: undefined (a class of contexts is missing) or failed; the reason is in "
                     f"`{source(INTERPRET, InterpretFiles.LABELS)}` (`base_score_issues`, `tuned_score_issues`).")
    if any(r["base_latent"] is None or r["tuned_latent"] is None for r in rows):
        notes.append(f"{MISSING} as a latent: the latent has no matched partner (new or lost).")
    if len(ctx.up.interpret.labels) > n:
        notes.append(f"The first {fint(n)} of {fint(len(ctx.up.interpret.labels))} labelled rows.")
    return notes


def labels_table(ctx: ReportContext) -> Table:
    shown = ctx.ordered_labels()[:ctx.cfg.report.table_rows]
    trs, failed = [], False
    for r in shown:
        cells = [num(fint(r["pair_id"])), text_or_missing(r["class"])]
        for side in SAE_ORDER:
            lab, why = split_label(r[f"{side}_label"])
            failed |= bool(why) or (lab == MISSING and r[f"{side}_latent"] is not None)
            cells += [ctx.latent_cell(side, r[f"{side}_latent"]), ctx.label_cell(side, r[f"{side}_latent"], lab),
                      *(num(fnum(ctx.up.interpret.score(side, r[f"{side}_latent"], m), 2)) for m in shown_scorers())]
        cells.append(num(fsig(r["did"], signed=True)))
        cells.append(num(fci(r["did_ci_low"], r["did_ci_high"])))
        trs.append(cells)
    notes = label_notes(ctx, shown, failed)
    kinds = [k for k in ("echo", "duplicate", "floor", "dense") if k in ctx.marks_used]
    if kinds:
        notes.append(legend(kinds, ctx.cfg.report.dense_threshold) + " A linked latent has a feature card below.")
    return Table("tbl-labels", label_headers(), trs,
                 caption="Labels and scores of the labelled latents (most interesting first)",
                 notes=notes, source=source(INTERPRET, InterpretFiles.LABELS))


def scores_table(stats: dict[str, dict]) -> Table:
    rows = []
    for side, st in stats.items():
        rows.append([side, num(fint(st.get("latents"))), num(fint(st.get("labelled"))), num(fint(st.get("failed")))]
                    + [c for m in shown_scorers() for c in (num(fnum(st.get(m), 3)),
                                                            num(fnum(st.get(f"{m}_shuffled"), 3)),
                                                            num(fpct(st.get(f"{m}_beats"), 0)))])
    notes = ["Shuffled: the same latents scored with labels of other latents (a seeded derangement); a label "
             "means something only where it beats its shuffled score. Beats shuffled: fraction of labelled "
             "latents whose own label scores higher than the shuffled one."]
    if any(MISSING in c.text for r in rows for c in r[1:]):
        notes.append(f"{MISSING}: not recorded by stage 04 for this SAE.")
    return Table("tbl-label-scores", score_headers(), rows,
                 caption="Explanation scores against the shuffled-label baseline (means over labelled latents)",
                 notes=notes, source=source(INTERPRET, InterpretFiles.SUMMARY))


PAIRED_HEADERS = ["SAE", "scorer", "scored", "undefined", "failed", "paired", "own", "floor", "own \u2212 floor",
                  "95% CI", "wins / losses / ties", "sign test p", "own \u2212 top tokens"]


def _sign_min_p(get, m: str) -> float | None:
    """Smallest attainable p of scorer ``m``'s two-sided sign test: every untied latent on one side,
    2 x 0.5 ** (wins + losses), at most 1 (``get``: the scorer's paired statistics by key)."""
    w, lo = get(f"{m}_paired_wins"), get(f"{m}_paired_losses")
    return min(1.0, 2.0 * 0.5 ** (w + lo)) if finite(w) and finite(lo) and w + lo > 0 else None


def has_paired(scores: dict) -> bool:
    """True when stage 04 recorded the paired floor statistics (``<scorer>_paired_n``)."""
    return any(f"{m}_paired_n" in (scores.get(side) or {}) for side in SAE_ORDER for m in names())


def scorers_run(ctx: ReportContext) -> tuple[str, ...]:
    """The scorers stage 04 ran (``interpret.scorers``), in the registry's order."""
    return ctx.scorers_run()


def paired_scores_table(scores: dict[str, dict], n_donors: int | None = None,
                        scorers: tuple[str, ...] | None = None) -> Table:
    """Each SAE's labels against their floor, paired per latent: how many latents each scorer could score (and
    why not the others), the mean of own minus floor over the same latents with its bootstrap interval, the
    sign test, and the LLM label against the top-token label."""
    rows = []
    for side in SAE_ORDER:
        e = scores.get(side) or {}
        for m in names() if scorers is None else scorers:
            if f"{m}_paired_n" not in e:
                continue
            g = e.get
            rows.append([side, m, num(fint(g(f"{m}_scored"))), num(fint(g(f"{m}_undefined"))),
                         num(fint(g(f"{m}_failed"))), num(fint(g(f"{m}_paired_n"))),
                         num(fnum(g(f"{m}_accuracy_mean"), 3)),
                         num(fnum(g(f"{m}_accuracy_shuffled_mean" if SCORERS[m].reads_label else f"{m}_chance_mean"),
                                  3)),
                         num(fsigned(g(f"{m}_paired_diff"), 3)),
                         num(fci(g(f"{m}_paired_ci_low"), g(f"{m}_paired_ci_high"), 2)),
                         num(" / ".join(fint(g(f"{m}_paired_{k}")) for k in ("wins", "losses", "ties"))),
                         num(f"{fp(g(f'{m}_paired_sign_p'))} (min {fp(_sign_min_p(g, m))})"),
                         num(fsigned(g(f"{m}_vs_top_tokens_diff"), 3))])
    donors = f"{n_donors} other latents' labels" if n_donors else "other latents' labels"
    notes = [f"Floor: the same latent scored with {donors} (mean over donors). Own and floor are means over the "
             "same latents (those with both defined); own \u2212 floor is their mean per-latent difference, with a "
             "bootstrap 95% interval over latents and a two-sided sign test of wins against losses (ties dropped). "
             "A label means something only where the interval excludes 0.",
             "Undefined: the latent has no activating or no non-activating context to score, so balanced accuracy "
             "(AUC for embedding) has no value; failed: the scorer raised, its LLM requests failed or no reply "
             "parsed. Reasons per scorer are in summary.json (scorer_accounting).",
             "Embedding: Delphi's embedding scorer (AUC of label-to-context similarity; no generative LLM). "
             "Own \u2212 top tokens: the LLM label against a label listing the latent's top activating tokens."]
    notes += [SCORERS[m].note for m in dict.fromkeys(r[1] for r in rows) if SCORERS[m].note]
    return Table("tbl-label-scores", PAIRED_HEADERS, rows,
                 caption="Labels against their shuffled-label floor, paired per latent",
                 notes=notes, source=source(INTERPRET, InterpretFiles.SUMMARY))


def paired_finding(ctx: ReportContext, scores: dict[str, dict]) -> None:
    parts, beats = [], []
    for side in SAE_ORDER:
        e = scores.get(side) or {}
        m = next((m for m in label_scorers() if e.get(f"{m}_paired_n")), None)
        if m is None:
            continue
        lo, hi = e.get(f"{m}_paired_ci_low"), e.get(f"{m}_paired_ci_high")
        beats.append(finite(lo) and lo > 0)
        verdict = ("beat" if finite(lo) and lo > 0 else "fall below" if finite(hi) and hi < 0
                   else "cannot be told from")
        parts.append(f"{side}: {m} own \u2212 floor {fsigned(e.get(f'{m}_paired_diff'), 3)} {fci(lo, hi, 2)} over "
                     f"{fint(e.get(f'{m}_paired_n'))} latents (sign test p {fp(e.get(f'{m}_paired_sign_p'))}, "
                     f"smallest attainable {fp(_sign_min_p(e.get, m))}), so "
                     f"the labels {verdict} shuffled labels")
    if not parts:
        return
    text = "Labels against their shuffled-label floor, paired per latent: " + "; ".join(parts) + "."
    nf = sum(int((scores.get(s) or {}).get("failed") or 0) for s in SAE_ORDER)
    nl = sum(int((scores.get(s) or {}).get("latents") or 0) for s in SAE_ORDER)
    nsf = sum(int((scores.get(s) or {}).get(f"{m}_failed") or 0) for s in SAE_ORDER for m in names())
    nsu = sum(int((scores.get(s) or {}).get(f"{m}_undefined") or 0) for s in SAE_ORDER for m in names())
    text += (f" {fint(nf)} of {fint(nl)} explanations failed; {fint(nsf)} {plural(nsf, 'score')} failed and "
             f"{fint(nsu)} {plural(nsu, 'was', 'were')} undefined across scorers.")
    ctx.find("labels", text, supported=all(beats), scores=scores)


CROSS_HEADERS = ["pair", "base latent", "tuned latent", "scorer", "base label on tuned", "tuned floor",
                 "tuned label on base", "base floor", "verdict"]


def cross_table(ctx: ReportContext) -> Table | None:
    """Each cross-scored pair: the base label scored on the tuned latent's contexts (beside the tuned latent's
    shuffled floor) and the tuned label on the base latent's, with stage 04's verdict."""
    rows, res = [], ctx.up.interpret
    for r in ctx.ordered_labels():
        m = r.get("cross_scorer")
        if not m:
            continue
        b, t = r["base_latent"], r["tuned_latent"]
        rows.append([num(fint(r["pair_id"])), ctx.latent_cell("base", b), ctx.latent_cell("tuned", t), m,
                     num(fnum(res.score("tuned", t, m, "partner"), 2)), num(fnum(res.score("tuned", t, m, "floor"), 2)),
                     num(fnum(res.score("base", b, m, "partner"), 2)), num(fnum(res.score("base", b, m, "floor"), 2)),
                     text_or_missing(r.get("cross_verdict"))])
    if not rows:
        return None
    return Table("tbl-label-cross", CROSS_HEADERS, rows,
                 caption="Cross-scored pair labels: does each label still describe its partner?",
                 notes=["Each matched pair's base label is scored on the tuned latent's contexts and vice versa. "
                        "Verdict: kept (each label beats its partner's floor on the partner's contexts), changed "
                        f"(neither does), one-way (one does), {MISSING} (a score is undefined). A verdict is only as "
                        "good as the labels: where the labels do not beat their own floor (table above), it says "
                        "nothing about the features."],
                 source=source(INTERPRET, InterpretFiles.LABELS))


def cross_finding(ctx: ReportContext, summary: dict) -> None:
    cross = summary.get("cross") or {}
    m = next((m for m in scorers_run(ctx) if isinstance(cross.get(m), dict)
              and (cross[m].get("partner_label_vs_floor") or {}).get("n")), None)
    if m is None:
        return
    st = cross[m]["partner_label_vs_floor"]
    lo, hi = st.get("ci_low"), st.get("ci_high")
    verdict = ("beat" if finite(lo) and lo > 0 else "fall below" if finite(hi) and hi < 0 else "cannot be told from")
    v = cross.get("verdicts") or {}
    ctx.find("labels_cross",
             f"Cross-scored pair labels ({fint(cross.get('pairs'))} pairs; verdicts: "
             + ", ".join(f"{k} {fint(n)}" for k, n in sorted(v.items())) + f"): on its partner's contexts a label "
             f"scores {fsigned(st.get('mean_diff'), 3)} {fci(lo, hi, 2)} ({m}) against the partner's shuffled floor "
             f"over {fint(st.get('n'))} scores, so the labels {verdict} the floor on their partners.",
             supported=(finite(lo) and lo > 0) if finite(lo) else None, cross=cross)


def scores_figure(ctx: ReportContext, stats: dict[str, dict]) -> list:
    from featevo.report.figures import label_scores

    p = ctx.fig_dir / ReportFiles.LABEL_SCORES
    shown = shown_scorers()
    label_scores({side: {m: st.get(m) for m in shown} for side, st in stats.items()},
                 {side: {m: st.get(f"{m}_shuffled") for m in shown} for side, st in stats.items()}, p)
    return ctx.figure_block(p, "Mean detection and fuzzing scores of the base (blue) and tuned (orange) labels; "
                               "black dashes: the same latents scored with shuffled labels.",
                            "Label score bars", "fig-label-scores", 760)


def labels_finding(ctx: ReportContext, stats: dict[str, dict]) -> None:
    b, t = stats.get("base", {}), stats.get("tuned", {})
    m = shown_scorers()[0]  # the first scorer of the label table
    if not (finite(b.get(m)) and finite(t.get(m))):
        return
    text = (f"The labels predict activations with mean {m} score {fnum(b[m], 2)} (base) "
            f"and {fnum(t[m], 2)} (tuned)")
    if finite(b.get(f"{m}_shuffled")) and finite(t.get(f"{m}_shuffled")):
        text += (f", against {fnum(b[f'{m}_shuffled'], 2)} and {fnum(t[f'{m}_shuffled'], 2)} "
                 "with shuffled labels.")
    else:
        text += "; no shuffled-label baseline was recorded."
    fails = [st["failed"] for st in stats.values() if finite(st.get("failed"))]
    total = [st["latents"] for st in stats.values() if finite(st.get("latents"))]
    if fails:
        nf = sum(fails)
        text += (f" {fint(nf)} of {fint(sum(total))} explanations failed." if len(total) == len(fails)
                 else f" {fint(nf)} {plural(nf, 'explanation')} failed.")
    ctx.find("labels", text, scores=stats)


def quality_finding(ctx: ReportContext) -> None:
    """How many labels carry a mark (featevo.report.quality): echo, duplicate, not above the floor."""
    marks = ctx.label_marks
    if not marks:
        return
    n = {k: sum(1 for fl in marks.values() if any(f.kind == k for f in fl)) for k in ("echo", "duplicate", "floor")}
    clean = sum(1 for fl in marks.values() if not fl)
    text = (f"Of the {fint(len(marks))} labels stage 04 wrote, {fint(n['echo'])} "
            f"{plural(n['echo'], 'echoes', 'echo')} the few-shot example of Delphi's explainer prompt, "
            f"{fint(n['duplicate'])} {plural(n['duplicate'], 'is', 'are')} duplicated across latents of one SAE and "
            f"{fint(n['floor'])} {plural(n['floor'], 'does', 'do')} not beat the shuffled-label floor; {fint(clean)} "
            f"{plural(clean, 'carries', 'carry')} no such mark (marked labels are greyed in the tables and never a "
            "card's headline).")
    ctx.find("label_quality", text, supported=None, labels=len(marks), clean=clean, **n)


def labels_section(ctx: ReportContext) -> Section:
    sec = Section("labels", "Labelled features, side by side")
    sec.add(labels_table(ctx))
    quality_finding(ctx)
    summary = ctx.up.interpret.summary or {}
    scores = summary.get("scores") or {}
    if has_paired(scores):  # stage 04 with the paired floor: show the paired difference, not two unpaired means
        sec.add(paired_scores_table(scores, summary.get("n_shuffled_donors"), ctx.scorers_run()))
        paired_finding(ctx, scores)
        t = cross_table(ctx)
        if t is not None:
            sec.add(t)
            cross_finding(ctx, summary)
        return sec
    stats = ctx.score_stats()
    if stats:
        sec.add(scores_table(stats), *scores_figure(ctx, stats))
        labels_finding(ctx, stats)
    return sec
