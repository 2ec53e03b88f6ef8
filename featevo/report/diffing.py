"""Section: model diffing that keeps feature identity (stage ``02_model_diffing``), every lens against its null.

How to read it. **Stage-wise diffing** continues the base SAE on another model's activations; latent i stays
latent i, and a latent is *flagged* when it rotates beyond what the same continued training on the base model's
own activations (other data orders, the null) gives it. The first table sets each contrast's run against the null
runs (the unit is the run, what was sampled: its mean rotation against each null run's, p = (1 + null runs at
least as large) / (1 + null runs), beside its smallest attainable value), with its flag count as a descriptive
number beside what the null expects (alpha times the latents) and the count on one more null order held out from
the reference. The control twin (same recipe on reference-domain text) is a comparison, a real change set beside
the tuned twin's; the planted twin is the positive control. **Crosscoders** per model pair give latent classes by
relative decoder norm; the base~base crosscoder (one model twice) is their null. The **planted positive control**
asks each lens to rank the latent that carries a planted word among its most changed (aim: rank <= 3, AUROC >=
0.9). **Lens agreement** expresses every lens's flagged set as base SAE latents and tests each pair's overlap
against the hypergeometric chance level (:mod:`featevo.lenses`). Every sentence is generated from these numbers.
"""

from __future__ import annotations

from typing import Optional


from featevo.claims import evaluate, supported
from featevo.diffing_lenses import crosscoder as crosscoder_lens
from featevo.layout import DELTAS, DIFFING, DiffingFiles, ReportFiles, main_saes
from featevo.report.common import absent_stage, dig, num, plural, source
from featevo.report.context import ReportContext
from featevo.report.evidence import claim_sentence, claim_values
from featevo.report.templates import MISSING, Para, Section, Table, finite, fint, fnum, fp, fsigned

CONTINUED = {"tuned": "base SAE continued on the tuned model", "control": "base SAE continued on the control twin",
             "planted": "tuned SAE continued on the planted twin"}
"""Stage-wise contrast -> the continued training it is (a table column)."""
HELD_OUT = (("null_held_out", "held-out null order (base on base)"),
            ("planted_null_held_out", "held-out null order (tuned on tuned)"))
PAIRS = (*crosscoder_lens.PAIRS, crosscoder_lens.NULL_PAIR)
NULL_PAIR = crosscoder_lens.NULL_PAIR
LENS_LABEL = {"stagewise": "stage-wise", "crosscoder": "crosscoder", "matching": "independent matching"}
DEFAULT_AIM = {"rank_at_most": 3, "rule": "change"}
MAX_LATENT_ROWS = 40
INTRO = ("Three lenses that keep feature identity, each against its null. **Stage-wise diffing** continues the base "
         "SAE on another model's activations (latent i stays latent i) and flags a latent that rotates beyond what the "
         "same continued training on the base model's own activations gives (other data orders). **Crosscoders** "
         "learn one dictionary for two models; a latent whose decoder lives in one model only is model-specific, and "
         "the base~base crosscoder (one model twice) is the null. The control twin (same fine-tuning recipe on "
         "{reference} text) is a comparison: a real change, set beside the tuned twin's, neither a pass nor a fail; "
         "the planted twin (one planted word) is the positive control. Each p stands beside its smallest attainable "
         "value, with the run (not the latents of one run) as the unit. "
         "Every count below stands beside its null; a lens is said to find something only where it beats that null.")


def _alpha(ctx: ReportContext) -> float:
    return float(ctx.cfg.diffing.alpha)


def _summary(ctx: ReportContext) -> dict:
    return ctx.up.diffing.summary or {}


def _n_latents(ctx: ReportContext, contrast: str) -> int:
    return len(ctx.up.diffing.stagewise.where(contrast=contrast))


# --------------------------------------------------------------------------------------------
# Stage-wise flags against the null
# --------------------------------------------------------------------------------------------
def lens_claims(ctx: ReportContext, lens: str) -> list[dict]:
    """The claims stage 02_model_diffing made with lens ``lens`` (in the stage's order)."""
    return [c for c in ctx.up.diffing.claims if c.get("lens") == lens]


def stagewise_sentence(ctx: ReportContext, name: str, label: str, claim: dict) -> str:
    """The contrast's run against the null runs (:func:`featevo.report.evidence.claim_sentence`), with its flag count
    as a descriptive number; the control twin's run is a comparison, the planted twin's a positive control."""
    text = claim_sentence(claim)
    ok = supported(claim)
    if name == "control":
        t, g = ctx.domains
        text += (f" This is a comparison, not a control: the control twin is a real change (the same recipe on {g} "
                 f"text), set beside the tuned twin's run; the tuned twin's change is specific to {t} text only where "
                 "it exceeds the control twin's.")
    if name == "planted":
        text += (" The planted twin's run is beyond the null runs (whether the planted latent ranks at the top is the "
                 "planted-aim finding)." if ok else
                 " The positive control fails: the lens does not set the planted twin's run beyond its null runs.")
    return text


def stagewise_table(ctx: ReportContext, claims: list[dict]) -> Table:
    sw = _summary(ctx).get("stagewise") or {}
    rows = []
    for raw in claims:
        c = evaluate(raw)
        e = sw.get(c.get("contrast"))
        if not isinstance(e, dict):
            continue
        obs, nul, test = c["observed"], c["null"], c.get("test") or {}
        null_runs = (f"{fnum(nul.get('min'), 4)}–{fnum(nul.get('max'), 4)} ({fint(nul.get('n'))} runs)"
                     if finite(nul.get("n")) else MISSING)
        rows.append([c.get("label", c.get("contrast")), c.get("role", "claim").replace("_", " "),
                     CONTINUED.get(c.get("contrast"), MISSING), num(fint(e.get("orders"))),
                     num(f"{fint(obs.get('count'))} of {fint(obs.get('n'))}"),
                     num(fnum(nul.get("alpha_expects"), 1)), num(fint(nul.get("held_out_flags"))),
                     num(fnum(e.get("rotation_mean"), 4)), num(null_runs), num(fp(test.get("p"))),
                     num(fp(test.get("min_attainable_p"))), "yes" if c.get("supported") else "no",
                     num(fnum(e.get("rotation_reproducibility_r"), 2)),
                     num(fnum(e.get("excess_reproducibility_r"), 2))])
    for name, label in HELD_OUT:
        e = sw.get(name)
        if isinstance(e, dict):
            n = _n_latents(ctx, name)
            rows.append([label, "null", "one null order against the others", num(fint(e.get("orders"))),
                         num(f"{fint(e.get('flagged'))} of {fint(n)}"), num(fnum(_alpha(ctx) * n, 1)), MISSING,
                         num(fnum(e.get("rotation_mean"), 4)), MISSING, MISSING, MISSING, MISSING,
                         num(fnum(e.get("rotation_reproducibility_r"), 2)), MISSING])
    return Table("tbl-diffing-stagewise",
                 ["contrast", "role", "continued training", "data orders", "flagged latents (descriptive)",
                  "null expects", "held-out null flags", "mean rotation", "null runs' mean rotation", "p",
                  "smallest attainable p", "beyond the null runs", "reproducibility r (rotation)",
                  "reproducibility r (excess)"], rows,
                 caption="Stage-wise diffing: each contrast's run against the null runs, with its flag count",
                 notes=[f"Flagged: rotation beyond the null with empirical p <= {_alpha(ctx):g} (pooled "
                        "leave-one-out null orders), a descriptive count of latents of one run. Null expects: alpha "
                        "times the latents; held-out null flags: the same rule on one more null order held out from "
                        "the reference. p: the unit is the run: the contrast's mean rotation (over latents and its "
                        "data orders) against the mean rotation of each null run (the start SAE continued on its "
                        "own model's activations, one run per data order), p = (1 + null runs at least as large) / "
                        "(1 + null runs); beside it its smallest attainable value, 1 / (1 + null runs). The control "
                        "twin's row is a comparison (a real change), not a control. Reproducibility: mean Pearson r of "
                        "the per-latent rotation (and of its excess over the null) between data orders "
                        f"({MISSING}: one order)."],
                 source=source(DIFFING, DiffingFiles.SUMMARY))


def two_by_two_table(ctx: ReportContext) -> Optional[Table]:
    t = _summary(ctx).get("two_by_two")
    if not isinstance(t, dict):
        return None
    tg, rf = ctx.domains
    cells = (("null_reference", f"base model, {rf} rows (null)"), ("data", f"base model, {tg} rows"),
             ("model", f"tuned model, {rf} rows"), ("both", f"tuned model, {tg} rows"))
    rows = [[lab, num(fnum(dig(t, "rotation_mean", c), 4)), num(fnum(dig(t, "excess_rotation_mean", c), 4))]
            for c, lab in cells]
    return Table("tbl-diffing-2x2", ["cell", "mean rotation", "excess over the null cell"], rows,
                 caption="The 2x2: model x data",
                 notes=["Correlation of the per-latent rotations: model vs data r = "
                        f"{fnum(t.get('r_model_vs_data'), 2)}, "
                        f"both vs model r = {fnum(t.get('r_both_vs_model'), 2)}, both vs data r = "
                        f"{fnum(t.get('r_both_vs_data'), 2)}. A model effect that equals the data effect would be "
                        f"what the {tg} text does to any model, not what tuning did."],
                 source=source(DIFFING, DiffingFiles.SUMMARY))


# --------------------------------------------------------------------------------------------
# Crosscoders
# --------------------------------------------------------------------------------------------
def crosscoder_table(ctx: ReportContext) -> Optional[Table]:
    cc = _summary(ctx).get("crosscoder") or {}
    names = [p for p in PAIRS if p in cc] + [p for p in cc if p not in PAIRS]
    threshold = ctx.cfg.diffing.crosscoder.model_only_threshold
    if not names:
        return None
    rows = []
    for p in names:
        e = cc[p]
        rows.append([p + (" (null)" if p == NULL_PAIR else ""), e.get("text") or MISSING, num(fnum(e.get("fvu"))),
                     num(fnum(e.get("l0"), 1)), num(fint(e.get("dead_latents"))), num(fint(e.get("a_only"))),
                     num(fint(e.get("b_only"))), num(fint(e.get("shared"))), num(fint(e.get("a_only_confirmed"))),
                     num(fint(e.get("b_only_confirmed"))), num(fnum(dig(e, "rho_quantiles", "0.5")))])
    return Table("tbl-diffing-crosscoder",
                 ["crosscoder (a~b)", "text", "FVU", "L0", "dead", "a-only", "b-only", "shared",
                  "a-only confirmed", "b-only confirmed", "median rho"], rows,
                 caption="Crosscoder latent classes per model pair against the base~base null",
                 notes=[f"rho: relative decoder norm |d_b| / (|d_a| + |d_b|); a-only rho <= "
                        f"{fnum(threshold, 2)}, b-only rho >= {fnum(1 - threshold, 2)}. Confirmed: model-specific "
                        "after Latent Scaling. base~base pairs the base model with itself: every model-specific latent "
                        "there is a training artefact, the null of the other rows."],
                 source=source(DIFFING, DiffingFiles.SUMMARY))


def crosscoder_sentence(pair: str, claim: dict) -> str:
    """The pair's confirmed model-specific latents against the null crosscoder's, with the run-level p (the unit is
    the crosscoder) beside its smallest attainable value."""
    c = evaluate(claim)
    obs, nul, test = c["observed"], c["null"], c.get("test") or {}
    b = pair.split("~")[1]
    text = (f"The {pair} crosscoder has {fint(obs.get('count'))} {b}-specific latents confirmed by Latent Scaling "
            f"against {fint(nul.get('count'))} for the base~base null")
    p = f"p = {fp(test.get('p'))}, smallest attainable {fp(test.get('min_attainable_p'))}"
    if not finite(obs.get("count")) or not finite(nul.get("count")):
        return text + "; not testable here."
    if not obs.get("count") and not nul.get("count"):
        return text + f"; neither has any, so the lens shows no model-specific latent ({p})."
    verdict = "this exceeds the null crosscoders" if c.get("supported") else "this does not exceed the null crosscoders"
    text += f"; {verdict} (the unit is the crosscoder: {p}"
    mp, alpha = test.get("min_attainable_p"), test.get("alpha", 0.05)
    if finite(mp) and mp > alpha:
        text += f"; with {fint(nul.get('n'))} null crosscoder(s) the counts are descriptive: no data could support it"
    text += ")."
    if b == "control":
        text += " This is a comparison (the control twin is a real change), not a control."
    return text


# --------------------------------------------------------------------------------------------
# The planted positive control
# --------------------------------------------------------------------------------------------
def planted_rows(ctx: ReportContext) -> tuple[dict, dict]:
    """(aim, lens -> {planted, main}) from planted.json, else the summary's copy."""
    pj = ctx.up.diffing.planted or {}
    aim = pj.get("aim") or DEFAULT_AIM
    lenses = pj.get("lenses") or _summary(ctx).get("planted") or {}
    return aim, {k: v for k, v in lenses.items() if isinstance(v, dict)}


def meets_aim(p: dict, aim: dict) -> Optional[bool]:
    """Recomputed from the rank (never the stored flag); an older aim with an AUROC floor keeps it."""
    if not (finite(p.get("rank")) and finite(p.get("auroc"))):
        return None
    return p["rank"] <= aim["rank_at_most"] and p["auroc"] >= aim.get("auroc_at_least", -1.0)


def _rank(p: dict) -> str:
    return f"{fint(p.get('rank'))} of {fint(p.get('n_latents'))}"


def planted_table(ctx: ReportContext) -> Optional[Table]:
    aim, lenses = planted_rows(ctx)
    if not lenses:
        return None
    rows = []
    for lens, r in lenses.items():
        p, m = r.get("planted") or {}, r.get("main") or {}
        ok, null = meets_aim(p, aim), p.get("null") or {}
        rows.append([lens_label(ctx, lens), num(fint(p.get("best_latent"))), num(fnum(p.get("auroc"))),
                     num(_rank(p)), num(f"{fp(p.get('p_rank'))} (min {fp(p.get('min_attainable_p_rank'))})"),
                     MISSING if ok is None else ("met" if ok else "not met"),
                     num(fnum(null.get("auroc"))) if null else MISSING,
                     num(_rank(m))])
    return Table("tbl-diffing-planted",
                 ["lens", "planted latent (by change)", "AUROC of its change", "rank in the planted contrast",
                  "p (random ranking)", "aim", "replica: best AUROC of change", "main diff: its rule's rank"], rows,
                 caption="Positive control: the planted change per lens, scored on change",
                 notes=[f"Rule (fixed before the run): {(ctx.up.diffing.planted or {}).get('rule') or 'change'}. "
                        f"Aim: rank <= {fint(aim.get('rank_at_most'))}. p: the chance that a random ranking puts "
                        "the latent this high (rank / latents). Replica: the same rule on the change between the "
                        "tuned twin and its replica (twin-seed noise); the plant's AUROC should exceed it. Main diff: "
                        "the base-vs-tuned comparison, whose models never saw the planted word: a high rank there "
                        "would be a false positive."],
                 source=source(DIFFING, DiffingFiles.PLANTED))


def planted_finding(ctx: ReportContext) -> None:
    aim, lenses = planted_rows(ctx)
    if not lenses:
        pj = ctx.up.diffing.planted or {}
        if pj.get("available") is False and pj.get("reason"):
            ctx.find("diffing_planted", f"No planted positive control: {pj['reason']}.", supported=None)
        return
    parts, met = [], 0
    for lens, r in lenses.items():
        p, m = r.get("planted") or {}, r.get("main") or {}
        ok = meets_aim(p, aim)
        met += bool(ok)
        parts.append(f"{lens_label(ctx, lens)} rank {_rank(p)} (p = {fp(p.get('p_rank'))}, smallest attainable "
                     f"{fp(p.get('min_attainable_p_rank'))}), AUROC of the change "
                     f"{fnum(p.get('auroc'), 2)} ({'met' if ok else 'not met'}; main diff rank {fint(m.get('rank'))})")
    strength = (ctx.up.diffing.planted or {}).get("plant_strength") or {}
    ex = strength.get("excess_over_replica") or {}
    real = (" At the hooked layer the plant changes its positions by "
            f"{fnum(strength.get('planted_positions'), 3)} (relative; elsewhere in the same sentences "
            f"{fnum(strength.get('elsewhere'), 3)}); position-specific beyond the replica's twin-seed noise by "
            f"{fsigned(ex.get('estimate'), 3)} [{fnum(ex.get('ci_low'), 3)}, {fnum(ex.get('ci_high'), 3)}] "
            f"(template bootstrap; {'real' if ex.get('real') else 'not beyond twin-seed noise'})."
            if ex else "")
    text = (f"The planted positive control, scored on change, meets its aim (rank <= {fint(aim.get('rank_at_most'))}"
            f") for {met} of {len(lenses)} {plural(len(lenses), 'lens', 'lenses')}: " + "; ".join(parts) + "." + real)
    ctx.find("diffing_planted", text, supported=met > 0, role="positive_control", aim=aim, lenses_meeting_aim=met,
             lenses={k: {part: {x: (v.get(part) or {}).get(x) for x in ("best_latent", "auroc", "rank", "n_latents",
                                                                        "p_rank")}
                         for part in ("planted", "main")} for k, v in lenses.items()})


# --------------------------------------------------------------------------------------------
# Lens agreement
# --------------------------------------------------------------------------------------------
def agreement(ctx: ReportContext) -> dict:
    """Lens agreement of the typed results (:func:`featevo.lenses.lens_agreement`): 02_model_diffing's lens sets
    and 03_activation_deltas' matching set of the primary comparison."""
    from featevo.lenses import lens_agreement

    primary = f"{main_saes(ctx.cfg, 'base')[0]}~{main_saes(ctx.cfg, 'tuned')[0]}"
    return lens_agreement(ctx.up.diffing, ctx.up.deltas, primary, _alpha(ctx), int(ctx.sae_cfg("num_latents") or 0))


def lens_tables(ctx: ReportContext) -> list:
    res = agreement(ctx)
    sets, what, cos, n, a = res["all_sets"], res["what"], res["mapping_cosine"], res["n"], res["alpha"]
    blocks: list = [Table("tbl-lens-sets", ["lens", "flagged base SAE latents", "what it flags"],
                          [[k, num(MISSING if sets[k] is None else f"{len(set(sets[k]))} of {fint(n)}"), what[k]]
                           for k in sets],
                          caption="Lens agreement: what each lens flags, as base SAE latents",
                          source=f"{source(DIFFING, DiffingFiles.STAGEWISE_LATENTS)}, "
                                 f"{source(DIFFING, DiffingFiles.CROSSCODER_LATENTS)}, {DELTAS} (pair effects)")]
    rows = [[f"{p['a']} & {p['b']}", num(fint(p["size_a"])), num(fint(p["size_b"])), num(fint(p["overlap"])),
             num(fnum(p["expected"], 2)), num(fp(p["p"])), num(fp(p.get("min_attainable_p"))),
             "yes" if p["beyond"] else "no"] for p in res["pairs"]]
    notes = ["Expected: |A| |B| / N for two independent sets of N base latents (hypergeometric mean); p: one-sided "
             f"hypergeometric P(overlap >= observed); beyond chance when p <= {a:g}."]
    if res["missing"]:
        notes.append("Missing " + ", ".join(f"{k} ({what[k].removeprefix('missing: ')})" for k in res["missing"])
                     + ": its pairs are not in the table.")
    blocks.append(Table("tbl-lens-overlap", ["lenses", "|A|", "|B|", "overlap", "expected by chance", "p",
                                             "smallest attainable p", "beyond chance"], rows,
                        caption="Lens agreement: overlap of every two lenses against chance", notes=notes))
    lat = sorted(res["by_latent"], key=lambda j: (-len(res["by_latent"][j]), j))
    lrows = []
    for j in lat[:MAX_LATENT_ROWS]:
        ks = res["by_latent"][j]
        lrows.append([ctx.latent_cell("base", j),
                      *["yes" if k in ks else ("" if sets[k] is not None else MISSING) for k in sets],
                      num(fnum(cos.get(j), 2)), num(fint(len(ks)))])
    if lrows:
        blocks.append(Table("tbl-lens-latents", ["base latent", *sets, "crosscoder mapping cosine", "lenses"], lrows,
                            caption="Which base SAE latents each lens flags (where they agree and disagree)",
                            notes=[f"Latents flagged by any lens, most lenses first (at most {MAX_LATENT_ROWS} rows of "
                                   f"{len(lat)}). {MISSING}: the lens is missing. Mapping cosine: the best decoder "
                                   "cosine of the crosscoder latent mapped to this base latent (a b-only latent's "
                                   "base-side half is small, so a low cosine is a weak mapping)."] + ctx.dense_note()))
    lens_finding(ctx, res)
    return blocks


def lens_finding(ctx: ReportContext, res: dict) -> None:
    if len(res["lenses"]) < 2:
        ctx.find("lens_agreement", f"Lens agreement cannot be tested: only {len(res['lenses'])} of the lenses "
                                   f"flag a set here (missing: {', '.join(res['missing']) or 'none'}).",
                 missing=res["missing"])
        return
    parts = [f"{p['a']} and {p['b']} share {fint(p['overlap'])} against {fnum(p['expected'], 2)} expected by "
             f"chance (p = {fp(p['p'])}, smallest attainable {fp(p.get('min_attainable_p'))}, "
             f"{'beyond chance' if p['beyond'] else 'not beyond chance'})"
             for p in res["pairs"]]
    n_beyond = res["n_beyond"]
    only = "; ".join(f"{k} alone flags {fint(len(v))}" for k, v in res["only"].items())
    text = (f"The diffing lenses agree beyond chance for {n_beyond} of {len(res['pairs'])} "
            f"{plural(len(res['pairs']), 'pair')} of lenses: " + "; ".join(parts)
            + f". {fint(len(res['all_lenses']))} base latents are flagged by every lens; where they disagree, {only}"
            + (f" (missing: {', '.join(res['missing'])})" if res["missing"] else "") + ".")
    ctx.find("lens_agreement", text, supported=n_beyond > 0, n_latents=res["n"],
             pairs=[{k: p[k] for k in ("a", "b", "size_a", "size_b", "overlap", "expected", "p")}
                    for p in res["pairs"]],
             missing=res["missing"], flagged_by_every_lens=res["all_lenses"])


# --------------------------------------------------------------------------------------------
# The section
# --------------------------------------------------------------------------------------------
def figures(ctx: ReportContext) -> list:
    blocks = []
    for name, copy_name, caption in (
            (DiffingFiles.ROTATION_FIG, ReportFiles.DIFFING_ROTATION,
             "Stage-wise diffing: each latent's rotation under the tuned contrast against the null (and the control "
             "twin and the held-out null order)."),
            (DiffingFiles.RHO_FIG, ReportFiles.DIFFING_RHO,
             "Crosscoders: relative decoder norm of every latent per model pair, with the model-only thresholds; "
             "base~base is the null.")):
        p = ctx.copy_figure(ctx.up.dirs[DIFFING] / name, copy_name)
        blocks += ctx.figure_block(p, caption, name.rsplit(".", 1)[0].replace("_", " "),
                                   "fig-" + copy_name.rsplit(".", 1)[0].replace("_", "-"))
    return blocks


def stagewise_blocks(ctx: ReportContext, claims: list[dict]) -> list:
    """The stage-wise lens: its flag table, the 2x2 and one finding per contrast."""
    blocks = [stagewise_table(ctx, claims)] if claims else []
    t = two_by_two_table(ctx)
    if t is not None:
        blocks.append(t)
    for c in claims:
        name = c["contrast"]
        ctx.find(f"diffing_stagewise_{name}", stagewise_sentence(ctx, name, c.get("label", name), c),
                 claims=[claim_values(c)], supported=supported(c), role=c.get("role", "claim"),
                 lens="stage-wise diffing", flagged=c["observed"].get("count"), latents=c["observed"].get("n"),
                 null_expects=c["null"].get("alpha_expects"), held_out_flags=c["null"].get("held_out_flags"))
    return blocks


def crosscoder_blocks(ctx: ReportContext, claims: list[dict]) -> list:
    """The crosscoder lens: its class table and one finding per pair."""
    t = crosscoder_table(ctx)
    for c in claims:
        pair = c["pair"]
        ctx.find(f"diffing_crosscoder_{pair.replace('~', '_')}", crosscoder_sentence(pair, c),
                 claims=[claim_values(c)], supported=supported(c), role=c.get("role", "claim"), lens="crosscoders",
                 count=c["observed"].get("count"), null_count=c["null"].get("count"))
    return [] if t is None else [t]


def lens_label(ctx: ReportContext, lens: str) -> str:
    """The lens's name in the report: the stage's ``lenses`` entry, else a built-in label, else its name."""
    return ((_summary(ctx).get("lenses") or {}).get(lens) or {}).get("label") or LENS_LABEL.get(lens, lens)


def _fid(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def generic_blocks(ctx: ReportContext, lens: str, claims: list[dict]) -> list:
    """A lens with no section of its own: its description, one table row and one finding per claim (the claim's
    numbers against its null, p, the smallest p its design can give, the verdict)."""
    label = lens_label(ctx, lens)
    desc = ((_summary(ctx).get("lenses") or {}).get(lens) or {}).get("description")
    rows = []
    for raw in claims:
        c = evaluate(raw)
        obs, nul, test = c.get("observed") or {}, c.get("null") or {}, c.get("test") or {}
        observed = (f"{fint(obs['count'])} of {fint(obs['n'])}" if finite(obs.get("count")) and finite(obs.get("n"))
                    else fnum(obs.get("estimate") if "estimate" in obs else obs.get("mean")))
        if finite(obs.get("ci_low")) and finite(obs.get("ci_high")):
            observed += f" [{fnum(obs['ci_low'])}, {fnum(obs['ci_high'])}]"
        null = nul.get("count", nul.get("value", nul.get("mean")))
        rows.append([c.get("statement") or c.get("id", ""), c.get("role", "claim").replace("_", " "), num(observed),
                     num(fnum(null)), num(fp(test.get("p"))), num(fp(test.get("min_attainable_p"))),
                     "yes" if c.get("supported") else "no"])
        ctx.find(f"diffing_{_fid(lens)}_{_fid(c.get('id', ''))}", claim_sentence(raw), claims=[claim_values(raw)],
                 supported=bool(c.get("supported")), role=c.get("role", "claim"), lens=label)
    blocks: list = [Para(f"**{label}**: {desc}")] if desc else []
    if rows:
        blocks.append(Table(f"tbl-diffing-{_fid(lens).replace('_', '-')}",
                            ["claim", "role", "observed [95% interval]", "null", "p", "smallest attainable p",
                             "supported"], rows, caption=f"{label}: its claims against their nulls",
                            source=source(DIFFING, DiffingFiles.SUMMARY)))
    return blocks


LENS_BLOCKS = {"stagewise": stagewise_blocks, "crosscoder": crosscoder_blocks}
"""Lens -> its own blocks; any other lens of the stage is rendered by :func:`generic_blocks`."""


def lens_order(ctx: ReportContext) -> list[str]:
    """The lenses of stage 02's claims and ``lenses`` entry, in the stage's order."""
    names = list(_summary(ctx).get("lenses") or {})
    for c in ctx.up.diffing.claims:
        if c.get("lens") and c["lens"] not in names:
            names.append(c["lens"])
    return names or list(LENS_BLOCKS)


def diffing_section(ctx: ReportContext) -> Section:
    sec = Section("diffing", "Model diffing that keeps feature identity")
    if absent_stage(ctx, sec, ctx.up.diffing, DIFFING, "diffing", "No model-diffing results",
                    "Model diffing is not in this report"):
        return sec
    sec.add(Para(INTRO.format(reference=ctx.domains[1])))
    for lens in lens_order(ctx):
        claims = lens_claims(ctx, lens)
        if lens in LENS_BLOCKS:
            sec.add(*LENS_BLOCKS[lens](ctx, claims))
        else:
            sec.add(*generic_blocks(ctx, lens, claims))
    t = planted_table(ctx)
    if t is not None:
        sec.add(t)
    planted_finding(ctx)
    sec.add(*lens_tables(ctx))
    sec.add(*figures(ctx))
    return sec
