"""Section: the study, as published and corrected (stage `03_study`).

How to read it. The study "Neural Feature Evolution in Domain Adaptation: A Comprehensive Analysis of BERT to
FinBERT Fine-tuning" (public repository tatsath/InterpUseCases, folder UseCase_BERTvsFinBERT) trained one SAE per
model and compared them on hand-written financial and general sentences. Its procedure runs here unchanged on this
run's SAEs and probe set: it reads the layer one block below the SAE's hookpoint (`hidden_states[layer]`),
encodes with `ReLU(W_enc x + b_enc)` (no `- b_dec`, no TopK), mean-pools every token including [CLS]/[SEP],
ranks latents by their mean activation on financial sentences, and compares latent i of one SAE with latent i of
the other. Its headline is the fraction of the tuned SAE's top-20 that is not in the base SAE's top-20. Beside
every number stand its baselines: what chance gives (two independent top-N sets of L latents share N²/L on
average, hypergeometric: 2 of 20 at the study's 200 latents), the same rule between two seeds of the base model
(nothing changed but the SAE's seed), and between base and the control twin (the same fine-tuning recipe on
general text). The ladder then applies one correction at a time, each row keeping the ones above it. All
numbers are computed by stage `03_study`; this section only shows them.
"""

from __future__ import annotations

from featevo.layout import DIFFING, INTERPRET, STUDY, InterpretFiles, ReportFiles, StudyFiles
from featevo.report.common import absent_stage, dig, num, source
from featevo.report.context import ReportContext
from featevo.report.evidence import claim_values
from featevo.report.templates import MISSING, Bullets, Cell, Para, Section, Table, finite, fint, fnum, fp, fpct

COMPARISON_WORDS = {"tuned": "base vs tuned (the study's)", "seed": "base vs a second seed of base",
                    "control": "base vs the control twin"}


def _s(ctx: ReportContext) -> dict:
    return ctx.up.study.summary or {}


def _f(x, count: bool, digits: int = 3) -> str:
    """A headline number: a count as an integer (a mean of counts rounded), else with ``digits`` significant."""
    if not finite(x):
        return MISSING
    return fint(round(float(x))) if count else fnum(x, digits)


def _is_count(r: dict) -> bool:
    """A row of counts: the study published an integer there (a mean of counts is at least 2 digits long)."""
    p = r.get("published")
    return finite(p) and float(p).is_integer() or (finite(p) and abs(p) >= 100)


def _pci(lo, hi) -> str:
    return f"[{fpct(lo, 0, True)}, {fpct(hi, 0, True)}]" if finite(lo) and finite(hi) else ""


def headline_table(ctx: ReportContext) -> Table:
    rows = [[r["statistic"], *(num(_f(r[k], _is_count(r))) for k in ("published", "tuned", "seed", "control",
                                                                       "chance"))] for r in ctx.up.study.headline]
    return Table("tbl-study-headline", ["statistic", "published (BERT vs FinBERT)", "this run: base vs tuned",
                                        "base vs base seed 1", "base vs control", "chance"], rows,
                 caption="The study's headline numbers: as published, and by its procedure on this run beside its "
                         "baselines",
                 notes=["Published: the study's own run, as its repository reports it (summary table, README). "
                        "This run: the study's procedure (layer one block below, dense encoder, special tokens "
                        "pooled, index pairing); the activation counts are taken over stage 01's eval windows, so "
                        "their scale differs from the study's corpus counts. Chance: hypergeometric, where defined."],
                 source=source(STUDY, StudyFiles.HEADLINE))


def ladder_table(ctx: ReportContext) -> Table:
    rows = []
    for r in ctx.up.study.ladder:
        ci, cci = _pci(r["ci_low"], r["ci_high"]), _pci(r["control_ci_low"], r["control_ci_high"])
        excess = r["rung"] >= 6
        rows.append([num(fint(r["rung"])), r["correction"] or MISSING,
                     num(f"{fpct(r['headline'], 0)} {ci}".strip() if not excess else f"{fpct(r['headline'], 0, True)} "
                         f"{ci}".strip()),
                     num(fint(r["tuned_overlap"])), num(fpct(r["chance_new"], 0) if not excess else ""),
                     num(fp(r["p_chance_at_most"]) if not excess else ""),
                     num(fpct(r["seed_new"], 0)), num(fpct(r["control_new"], 0)),
                     num(f"{fpct(r['control_minus_seed'], 0, True)} {cci}".strip() if excess else "")])
    return Table("tbl-study-ladder", ["rung", "correction added", "headline", "shared of top-20", "chance",
                                      "P(overlap <= observed) by chance", "seed pair", "base vs control",
                                      "control minus seed"], rows,
                 caption="The ladder of corrections: the study's headline after one correction at a time",
                 notes=["Headline, rungs 0-5: fraction of the tuned SAE's top-20 not shared with the base SAE's "
                        "top-20 (the study's \"new\"); rungs 6-7: that fraction minus the same between two seeds of "
                        "the base model, with (rung 7) a cluster-bootstrap interval over the probe's templates. "
                        "Chance: the expected fraction new when the tuned top-20 is drawn at random (with matching, "
                        "only base top latents that have a matched partner can be shared, so chance is higher). Seed "
                        "pair, base vs control: the same rule on those SAEs."],
                 source=source(STUDY, StudyFiles.LADDER))


def _study_rows(ctx: ReportContext, table, comparison: str, limit: int) -> list[list]:
    out = []
    for r in [r for r in table if r["comparison"] == comparison][:limit]:
        out.append([num(fint(r["latent"])), r["type"] or MISSING, num(fnum(r["base_fin"], 4)),
                    num(fnum(r["tuned_fin"], 4)), num(fnum(r["change"], 4)), num(fpct(_pct(r["change_pct"]), 1)),
                    num(fnum(r["base_score"], 4)), num(fnum(r["tuned_score"], 4)), num(fnum(r["score_change"], 4)),
                    num(fpct(_pct(r["score_change_pct"]), 1)), num(fnum(r["spec_change"], 4))])
    return out


def _pct(x):
    return x / 100.0 if finite(x) else None


STUDY_HEADERS = ["latent", "type", "base fin", "tuned fin", "change", "change %", "base score", "tuned score",
                 "score change", "score change %", "specialisation change"]


def baseline_notes(ctx: ReportContext) -> list[str]:
    """The top table's baselines in one line: the same rule between two seeds of base and base vs control."""
    out = []
    for r in ctx.up.study.change_summary:
        if r["comparison"] in ("seed", "control"):
            out.append(f"Baseline, {COMPARISON_WORDS[r['comparison']]}: largest change {fnum(r['max_change'], 3)}, "
                       f"{fint(r['n_tuned_financial'])} of its top-20 \"tuned financial\" (new), "
                       f"{fint(r['n_consistent'])} consistent.")
    return out


def top_tables(ctx: ReportContext) -> list:
    n = ctx.cfg.report.table_rows
    st = ctx.up.study
    t = Table("tbl-study-top", STUDY_HEADERS, _study_rows(ctx, st.top, "tuned", n),
              caption="The study's top-20 table, by its procedure: base vs tuned, latent i beside latent i",
              notes=["The study's columns: financial means, change and change %, finetuning score (fraction of "
                     "sentences with activation > 0 times the mean), specialisation change by the study's formula "
                     "(fin_T - gen_B - (fin_B - gen_B), which equals the financial change). Types: top-20 by "
                     "financial mean in the tuned SAE only (tuned financial), the base SAE only, both (consistent), "
                     "neither (general). The same tables for the seed and control baselines are in the CSV.",
                     *baseline_notes(ctx)],
              source=source(STUDY, StudyFiles.TOP))
    e = Table("tbl-study-emerging", STUDY_HEADERS, _study_rows(ctx, st.emerging, "tuned", n),
              caption="The study's emerging features (type tuned financial), by its procedure",
              source=source(STUDY, StudyFiles.EMERGING))
    return [t, e]


def summary_table(ctx: ReportContext) -> Table:
    rows = []
    for r in ctx.up.study.change_summary:
        rows.append([COMPARISON_WORDS.get(r["comparison"], r["comparison"]), num(fint(r["n_up"])),
                     num(fint(r["n_down"])), num(fnum(r["mean_change"], 4)),
                     num(f"{fnum(r['max_change'], 3)} (latent {fint(r['max_change_latent'])})"),
                     num(fint(r["n_consistent"])), num(fnum(r["corr_fin_gen_change"], 2)),
                     num(fint(r["top_more_on_general"]))])
    return Table("tbl-study-summary", ["comparison", "up", "down", "mean change", "max change", "consistent",
                                       "corr(fin change, gen change)", "top-20 higher on general"], rows,
                 caption="The study's summary and its checks, for base vs tuned beside the baselines",
                 notes=["The study published 102 up / 98 down, mean 0.006, max 0.927 (latent 127), 2 consistent, "
                        "corr 0.80 and 12 of its top-20 higher on general text. A correlation near 1 means the "
                        "latents that gain on financial text gain as much on general text: the change is not "
                        "domain-specific."],
                 source=source(STUDY, StudyFiles.CHANGE_SUMMARY))


def delta_table(ctx: ReportContext) -> Table:
    rows = []
    by = {c: [r for r in ctx.up.study.deltas if r["comparison"] == c] for c in COMPARISON_WORDS}
    for k, r in enumerate(by["tuned"][:10]):
        s = by["seed"][k] if k < len(by["seed"]) else None
        rows.append([num(fint(r["rank"])), num(fint(r["latent"])), num(fint(r["base_count"])),
                     num(fint(r["tuned_count"])), num(fint(r["delta"])), num(fpct(r["tuned_firing_rate"], 0)),
                     num(fint(s["delta"]) if s else MISSING)])
    return Table("tbl-study-deltas", ["rank", "latent", "base count", "tuned count", "delta", "tuned firing rate",
                                      "seed pair: delta at this rank"], rows,
                 caption="The study's activation-count delta ranking (tuned count of latent i minus base count of "
                         "latent i), beside the same ranking between two seeds of the base model",
                 notes=[f"Counts: token positions with a study-encoded activation above "
                        f"{fnum(_s(ctx).get('count_threshold'), 2)} over {fint(_s(ctx).get('count_positions'))} "
                        "positions of stage 01's eval windows. The study's top five were +69,679 to +49,211, its "
                        "'specialists' firing on 46-54% of positions: dense latents."],
                 source=source(STUDY, StudyFiles.DELTAS))


def _label_lookup(ctx: ReportContext, side: str) -> dict[int, str]:
    """Stage 04's label of each labelled latent of ``side`` (base or tuned), by latent index."""
    out: dict[int, str] = {}
    for r in ctx.up.interpret.labels:
        j, lab = r[f"{side}_latent"], r[f"{side}_label"]
        if j is not None and lab is not None:
            out.setdefault(int(j), lab)
    return out


def _unparsed(label: str | None) -> bool:
    return label is not None and label.strip().startswith("[failed")


def label_table(ctx: ReportContext) -> list:
    """The study's label comparison: labels of base latent i beside tuned latent i for its top activation-count
    deltas (index pairing), and how many records are missing or unparsed (stage 04 labels only some latents)."""
    top = [r for r in ctx.up.study.deltas if r["comparison"] == "tuned"][:10]
    if not top:
        return []
    lb, lt = _label_lookup(ctx, "base"), _label_lookup(ctx, "tuned")
    rows, missing, unparsed = [], 0, 0
    for r in top:
        i = r["latent"]
        b, t = lb.get(i), lt.get(i)
        missing += (b is None) + (t is None)
        unparsed += _unparsed(b) + _unparsed(t)
        rows.append([num(fint(r["rank"])), num(fint(i)), Cell(b or "no record", wrap=True, muted=b is None),
                     Cell(t or "no record", wrap=True, muted=t is None)])
    note = (f"{missing} of {2 * len(top)} label records are missing and {unparsed} unparsed: stage 04 labels the "
            f"latents featevo's own ranking picks ({fint(ctx.cfg.interpret.latents)} per SAE), not latent i of both "
            "SAEs. The study had records for 2 BERT latents, both unparsed, so its label comparison compared FinBERT "
            "labels with nothing; under index pairing base latent i and tuned latent i are unrelated latents anyway.")
    return [Table("tbl-study-labels", ["rank", "latent i", "base latent i: label", "tuned latent i: label"], rows,
                  caption="The study's label comparison for its top activation-count deltas, by index pairing",
                  notes=[note], source=f"{source(STUDY, StudyFiles.DELTAS)}, "
                                              f"{source(INTERPRET, InterpretFiles.LABELS)}")]


FIXED_DICTIONARY_CLAIMS = ("fixed_dictionary:control~tuned", "fixed_dictionary:beyond_replica")
"""The fixed-dictionary lens's answer to the study's question (02_model_diffing's claims, when that stage ran)."""


def quoted_claims(ctx: ReportContext) -> list[dict]:
    """featevo's own answer to the study's question: 02_model_diffing's fixed-dictionary claims (as that stage made
    them), then the claims of stages 02 and 03 that 03_study quoted."""
    out = []
    if ctx.up.diffing is not None:
        by = {c.get("id"): c for c in ctx.up.diffing.claims}
        out += [{"stage": DIFFING, **by[cid]} for cid in FIXED_DICTIONARY_CLAIMS if cid in by]
    return out + list(_s(ctx).get("corrected_answer") or [])


def corrected_block(ctx: ReportContext) -> list:
    quoted = quoted_claims(ctx)
    if not quoted:
        return [Para("featevo's own analysis of the question (stages 02 and 03) is not available in this run.",
                     "note")]
    items = []
    for c in quoted:
        obs, nul = c.get("observed") or {}, c.get("null") or {}
        if finite(obs.get("count")):
            val = f"{fint(obs.get('count'))} of {fint(obs.get('n'))}"
        else:
            val = f"mean {fnum(obs.get('mean'), 3)} [range {fnum(obs.get('min'), 3)}-{fnum(obs.get('max'), 3)}]"
            if finite(nul.get("mean")):
                val += f" against {fnum(nul.get('mean'), 3)} for the {nul.get('family', 'null')}"
        text = c.get("statement") if c.get("supported") else (c.get("negation") or f"not: {c.get('statement')}")
        items.append(f"`{c.get('stage')}` {c.get('id')}: {text} ({val}; p = {fp(dig(c, 'test', 'p'))}; "
                     f"{'supported' if c.get('supported') else 'not supported'}).")
    return [Para("**The corrected answer** (featevo's own analysis of the same question, quoted from the stages "
                 "that made it: matched pairs of stage 02, the fixed-dictionary lens of 02_model_diffing, the "
                 "domain-specific change of stage 03, each against its seed or control baseline):", "lead"),
            Bullets(items, "corrected")]


def _mean(xs: list) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def biggest_move(ladder: list[dict]) -> str:
    """Which correction moves the headline most (rungs 1-5, where the headline is the same quantity), and whether
    every rung stays near the seed pair's value."""
    moves = [(abs(b["headline"] - a["headline"]), b) for a, b in zip(ladder[:5], ladder[1:6])
             if finite(a["headline"]) and finite(b["headline"])]
    if not moves:
        return ""
    d, r = max(moves, key=lambda m: m[0])
    text = (f"The correction that moves the study's headline most is \"{r['correction']}\" (rung {fint(r['rung'])}, "
            f"by {fpct(d, 0)})")
    gaps = [abs(x["tuned_new"] - x["seed_new"]) for x in ladder[:6] if finite(x["tuned_new"]) and finite(x["seed_new"])]
    if gaps:
        text += (f"; at rungs 0-5 the headline is within {fpct(max(gaps), 0)} of what the same rule gives between two "
                 "seeds of the base model")
    return text + "."


def _findings(ctx: ReportContext) -> None:
    st = ctx.up.study
    ladder = st.ladder.rows()
    r0, last = ladder[0], ladder[-1]
    n = fint(_s(ctx).get("top_n"))
    pub = dig(_s(ctx), "study", "published", "new_fraction")
    ctx.find("study_headline",
             f"The study's headline by its own rule on this run: {fpct(r0['tuned_new'], 0)} of the tuned SAE's top-"
             f"{n} financial latents are not in the base SAE's top-{n} ({fint(r0['tuned_overlap'])} shared; "
             f"published: {fpct(pub, 0)}); chance gives {fpct(r0['chance_new'], 0)}, two seeds of the base model "
             f"{fpct(r0['seed_new'], 0)} and base vs the control twin {fpct(r0['control_new'], 0)}.",
             role="check", lens="study", published=pub, tuned=r0["tuned_new"], chance=r0["chance_new"],
             seed=r0["seed_new"], control=r0["control_new"], shared=r0["tuned_overlap"])
    if finite(last["headline"]):
        ctx.find("study_ladder",
                 "After every correction (right layer, the SAE's own encode, no special tokens, own reference, "
                 f"matching, seed baseline) the tuned SAE's top-{n} is {fpct(last['headline'], 0, True)} "
                 f"{_pci(last['ci_low'], last['ci_high'])} more \"new\" against base than a second seed of the base "
                 f"model's is (base vs control: {fpct(last['control_minus_seed'], 0, True)}). " + biggest_move(ladder),
                 role="check", lens="study", **{f"rung_{r['rung']}": r["headline"] for r in ladder})
    t = next(iter(st.change_summary.where(comparison="tuned")), None)
    fire = [r["tuned_firing_rate"] for r in st.deltas if r["comparison"] == "tuned"][:5]
    if t is not None:
        seed = next(iter(st.change_summary.where(comparison="seed")), {})
        ctx.find("study_checks",
                 f"The study's checks on this run: the financial and general changes of latent i correlate at "
                 f"{fnum(t['corr_fin_gen_change'], 2)} across latents (two seeds of base: "
                 f"{fnum(seed.get('corr_fin_gen_change'), 2)}; published 0.80), {fint(t['top_more_on_general'])} of "
                 f"the tuned top-{n} \"financial\" latents have a higher mean on {ctx.domains[1]} text (published 12), "
                 f"and the top-5 activation-count \"specialists\" fire on {fpct(_mean(fire), 0)} of token positions "
                 "(published 46-54%).",
                 role="check", lens="study", corr_fin_gen_change=t["corr_fin_gen_change"],
                 seed_corr_fin_gen_change=seed.get("corr_fin_gen_change"),
                 top_more_on_general=t["top_more_on_general"], specialist_firing_rate=fire)
    for c in st.claims:
        cv = claim_values(c)
        obs, nul = c.get("observed") or {}, c.get("null") or {}
        if c.get("kind") == "test":
            nums = (f" ({fint(obs.get('count'))} of {fint(obs.get('n'))} shared, {fnum(nul.get('expected_count'), 2)} "
                    f"expected by chance; P(overlap <= observed) = {fp(dig(c, 'test', 'p'))})")
        else:
            nums = (f" ({fpct(obs.get('estimate'), 0, True)} {_pci(obs.get('ci_low'), obs.get('ci_high'))})")
        ctx.find(c["id"].replace(":", "_"), _cap(c["statement"] if cv["supported"] else c["negation"]) + nums + ".",
                 claims=[cv], supported=cv["supported"], role="check", lens="study")


def study_section(ctx: ReportContext) -> Section:
    sec = Section("study", "The study, as published and corrected")
    if absent_stage(ctx, sec, ctx.up.study, STUDY, "study", "The study's procedure was not run",
                    "The study's procedure is not in this report"):
        return sec
    sec.add(Para(__doc__.split("How to read it. ", 1)[1].replace("\n", " ").strip()))
    _findings(ctx)
    sec.add(headline_table(ctx), ladder_table(ctx))
    move = biggest_move(st_rows := ctx.up.study.ladder.rows())
    if move and st_rows:
        sec.add(Para(move, "note"))
    cn = _s(ctx).get("class_new") or {}
    if finite(cn.get("all_live")):
        text = (f"By stage 02's classes (no decoder match to any base latent), {fpct(cn.get('top_as_published'), 0)} "
                f"of the tuned SAE's top-{fint(_s(ctx).get('top_n'))} by the study's ranking and "
                f"{fpct(cn.get('top_corrected'), 0)} by the corrected one are classed new, against "
                f"{fpct(cn.get('all_live'), 0)} of all its {fint(cn.get('n_live'))} live latents: the base rate a "
                "\"new\" top set has to beat.")
        sec.add(Para(text, "note"))
        ctx.find("study_class_base_rate", text, role="check", lens="study", **cn)
    d = ctx.up.dirs[STUDY]
    fig = ctx.copy_figure(d / StudyFiles.FOUR_PANEL, ReportFiles.STUDY_FOUR_PANEL)
    sec.add(*ctx.figure_block(fig, "The study's four-panel figure in its original layout, by its procedure on this "
                                   "run: (a) top-20 by financial change, latent i of base beside latent i of tuned; "
                                   "(b) specialisation improvement by its formula; (c) finetuning-score change over "
                                   "every latent; (d) financial vs general activation, y = x dashed.",
                              "The study's figure by its procedure", "fig-study"))
    fig = ctx.copy_figure(d / StudyFiles.FOUR_PANEL_CORRECTED, ReportFiles.STUDY_FOUR_PANEL_CORRECTED)
    sec.add(*ctx.figure_block(fig, "The same layout corrected: the SAE's hookpoint and own encode, no special "
                                   "tokens, specialisation against each model's own reference, matched pairs of "
                                   "stage 02; (c) beside the same change between two seeds of the base model.",
                              "The study's figure corrected", "fig-study-corrected"))
    sec.add(*top_tables(ctx), summary_table(ctx), delta_table(ctx), *label_table(ctx), *corrected_block(ctx))
    return sec
