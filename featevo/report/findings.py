"""The opening section: headline tiles and the findings, sentences the other sections generated from
the stage outputs (so the text cannot disagree with the tables)."""

from __future__ import annotations

from typing import Optional

from featevo.claims import evaluate
from featevo.report.answer import answer_blocks
from featevo.report.common import dig, pct_change, plural
from featevo.report.context import ReportContext
from featevo.report.evidence import by_id, fdist
from featevo.report.templates import Bullets, Para, Section, Tile, Tiles, fci, finite, fint, fnum, fp, fpct, fsigned
from featevo.scorers import SCORERS


def _twin_tile(ctx: ReportContext) -> list[Tile]:
    tw = ctx.up.twin
    fin = dig(tw, "eval_mlm_loss", "target") if isinstance(tw, dict) else None
    gen = dig(tw, "eval_mlm_loss", "reference") if isinstance(tw, dict) else None
    if not (isinstance(fin, dict) and finite(pct_change(fin.get("tuned"), fin.get("base")))):
        return []
    sub = (f"{ctx.domains[1]} text {fpct(pct_change(gen.get('tuned'), gen.get('base')), 1, True)}"
           if isinstance(gen, dict) else "")
    return [Tile(fpct(pct_change(fin.get("tuned"), fin.get("base")), 1, True),
                 f"MLM loss on {ctx.domains[0]} text after tuning", sub)]


def _claim_tile(claim: dict | None, label: str) -> list[Tile]:
    """A headline number from a claim: the observed family's mean, the null's mean [range] and the test's p."""
    if not claim:
        return []
    c = evaluate(claim)
    obs, nul, stat = c.get("observed") or {}, c.get("null") or {}, c.get("stat", "")
    if not finite(obs.get("mean")):
        return []
    verdict = "beyond the baseline" if c.get("supported") else "not beyond the baseline"
    if c.get("kind") == "threshold":
        sub = f"criterion {fpct(nul.get('value'), 0)}: {'met' if c.get('supported') else 'not met'}"
    else:
        sub = (f"{nul.get('family')} {fdist(nul, stat)}; p = {fp(dig(c, 'test', 'p'))} (smallest attainable "
               f"{fp(dig(c, 'test', 'min_attainable_p'))}), {verdict}")
    return [Tile(fdist(obs, stat), label, sub)]


def tiles(ctx: ReportContext) -> list[Tile]:
    """Headline numbers (each also in a table below): observed families against their nulls."""
    up, out = ctx.up, []
    b, t = up.sae_summary.get("base", {}), up.sae_summary.get("tuned", {})
    lb, lt = dig(b, "fidelity", "loss_recovered"), dig(t, "fidelity", "loss_recovered")
    if finite(lb) or finite(lt):
        out.append(Tile(f"{fpct(lb)} / {fpct(lt)}", "loss recovered by the SAEs at real-token positions",
                        "base / tuned model"))
    out += _twin_tile(ctx)
    c2 = up.compare.summary.get("claims") or []
    c3 = up.deltas.summary.get("claims") or []
    out += _claim_tile(by_id(c2, "matched_fraction:fine-tuning_vs_seed"),
                       "matched pairs, base vs tuned (mean [range] over seed pairs of SAEs)")
    out += _claim_tile(by_id(c2, "seed_stability:main"), "matched pairs between two seeds of the base SAE")
    out += _claim_tile(by_id(c3, "domain_specific_change"), "pairs whose domain preference changed beyond seed noise")
    out += _claim_tile(by_id(c3, "target_specific_beyond_control"),
                       f"pairs moved toward {ctx.domains[0]} text, against the control twin")
    return out + scorer_tile(ctx)


def scorer_tile(ctx: ReportContext) -> list[Tile]:
    """The headline label score: for the first scorer stage 04 ran (the registry's order, featevo.scorers) that has
    numbers on both SAEs, its own score minus its floor paired per latent (stage 04's scores_summary.csv), else its
    mean score beside its floor's."""
    st = ctx.score_stats()
    for m in ctx.scorers_run():
        spec = SCORERS[m]
        what = f"{'label ' if spec.reads_label else ''}{m} score"
        b, t = ctx.scorer_summary("base", m), ctx.scorer_summary("tuned", m)
        if finite(b.get("paired_diff")) and finite(t.get("paired_diff")):
            return [Tile(f"{fsigned(b['paired_diff'], 3)} / {fsigned(t['paired_diff'], 3)}",
                         f"{what} minus {spec.floor_kind}, paired per latent (base / tuned)",
                         f"95% CI {fci(b.get('paired_ci_low'), b.get('paired_ci_high'), 2)} / "
                         f"{fci(t.get('paired_ci_low'), t.get('paired_ci_high'), 2)}; "
                         f"over {fint(b.get('paired_n'))} / {fint(t.get('paired_n'))} latents")]
        if finite(dig(st, "base", m)) and finite(dig(st, "tuned", m)):
            sub = (f"{spec.floor_kind} {fnum(dig(st, 'base', f'{m}_shuffled'), 2)} / "
                   f"{fnum(dig(st, 'tuned', f'{m}_shuffled'), 2)}")
            return [Tile(f"{fnum(st['base'][m], 2)} / {fnum(st['tuned'][m], 2)}", what, sub + " (base / tuned)")]
    return []


CONTROL_ROLES = ("positive_control", "negative_control", "check")
"""The roles the Controls list shows (a comparison is not a control: it is listed beside the claims)."""


def neutral(f) -> bool:
    """Whether a control finding is a measurement worded neutrally: a check that states a claim (a measured test,
    e.g. "the tuned twin and its replica differ") neither passes nor fails; a machinery check without a claim (SAE
    fidelity, splice identity) does."""
    return f.role == "check" and bool(f.claims)


def control_passes(f) -> Optional[bool]:
    """Whether a control finding passes: a positive control or a check passes when it is supported, a negative
    control when it is not (the method must find nothing beyond its null there); None for a neutral check."""
    if f.supported is None or neutral(f):
        return None
    return (not f.supported) if f.role == "negative_control" else bool(f.supported)


def unreachable(f) -> bool:
    """Whether a control cannot pass by design: every claim it states has a smallest attainable p above its level
    (e.g. a run-level test with three null runs), so its "failure" says nothing about the method."""
    tests = [c.get("test") or {} for c in f.claims]
    return bool(tests) and all(finite(t.get("min_attainable_p")) and finite(t.get("alpha"))
                               and t["min_attainable_p"] > t["alpha"] for t in tests)


def _control_bullet(f) -> str:
    if neutral(f):
        return "Check: " + f.text[:1].lower() + f.text[1:]
    if not control_passes(f) and unreachable(f):
        return "Cannot pass at this design (its smallest attainable p exceeds alpha; more runs needed): " + f.text
    return ("Passes: " if control_passes(f) else "FAILS: ") + f.text


def comparison_blocks(ctx: ReportContext, comparisons: list) -> list:
    """The comparisons: what the control twin (the same recipe on reference-domain text) changes, beside the tuned
    twin's change; a change there is expected (the control twin is a real change) and neither passes nor fails."""
    if not comparisons:
        return []
    ref = ctx.domains[1]
    return [Para(f"**Comparisons** ({len(comparisons)}). What the control twin (the same fine-tuning recipe on {ref} "
                 "text) changes, measured the same way, beside the tuned twin's change above: the control twin is a "
                 "real change, so these are neither passes nor fails; a claim is specific to the target domain only "
                 "where it beats the control twin.", "note"),
            Bullets([f.text for f in comparisons], "comparisons")]


def supports_box(ctx: ReportContext) -> list:
    """"What this run supports": the claims that beat their nulls, the comparisons (what the control twin changes),
    the controls (do the methods find a planted change, and nothing where nothing changed?), then the claims that did
    not beat their nulls. Built only from the findings' ``supported`` flags and roles (re-derived from each claim's
    own numbers), so it says "nothing beyond its baseline" when that is the result."""
    claims = [f for f in ctx.findings if f.role == "claim"]
    yes = [f for f in claims if f.supported is True]
    no = [f for f in claims if f.supported is False]
    comparisons = [f for f in ctx.findings if f.role == "comparison" and f.supported is not None]
    controls = [f for f in ctx.findings if f.role in CONTROL_ROLES and f.supported is not None]
    if not yes and not no and not controls and not comparisons:
        return []
    out = answer_blocks(ctx)
    out += [Para("**What this run supports.** Claims that beat their baseline (seed pairs of the same model, the "
                "control twin, random latents, shuffled labels); then what the control twin changes, for comparison; "
                "then the controls that say whether each method can be trusted here; then the claims that did not "
                "beat their baseline. The numbers are in the findings below and in each section.", "lead")]
    failing_lenses = {f.lens for f in controls if f.lens and control_passes(f) is False}
    if yes:
        out.append(Bullets([f.text + (f" (Caution: a control of {f.lens} fails; see Controls.)"
                                      if f.lens in failing_lenses else "") for f in yes], "supports"))
    elif no:
        out.append(Bullets([f"Nothing in this run is detectable beyond its baseline: none of the {len(no)} "
                            f"tested claims beats it."], "supports none"))
    out += comparison_blocks(ctx, comparisons)
    if controls:
        judged = [f for f in controls if control_passes(f) is not None]
        failed = [f for f in judged if not control_passes(f)]
        n_neutral, n_out = len(controls) - len(judged), sum(unreachable(f) for f in failed)
        out.append(Para(f"**Controls** ({len(judged) - len(failed)} of {len(judged)} pass"
                        + (f", {n_out} cannot pass at this design" if n_out else "")
                        + (f"; {n_neutral} {plural(n_neutral, 'measured check')} worded neutrally" if n_neutral else "")
                        + "). A positive control must find a change planted on purpose; a negative control, a true "
                        "null, must find nothing beyond its baseline; a check states what the design measures; a claim "
                        "made by a method whose control fails is not trustworthy.", "note"))
        out.append(Bullets([_control_bullet(f) for f in controls], "controls"))
    if no:
        out.append(Para(f"Not supported at this scale ({len(no)} of {len(yes) + len(no)} tested claims): the "
                        "change is within the baseline's range.", "note"))
        out.append(Bullets([f.text for f in no], "unsupported"))
    return out


def findings_section(ctx: ReportContext) -> Section:
    """Built last: it lists the findings every other section has added."""
    headline = tiles(ctx)
    return Section("findings", "Findings", [
        *supports_box(ctx),
        *([Tiles(headline)] if headline else []),
        Para("Each statement below is generated from the stage outputs when the report is built; the numbers "
             "are the ones in the tables further down. A statement that claims a change is made only when the "
             "observed family beats its baseline (seed pairs of the same model, or the control twin) in a "
             "permutation test whose unit is what was sampled (SAEs, runs), re-derived here from the values it shows, "
             "its p beside the smallest p the design can give; otherwise the sentence says that the change is not "
             "detectable, with the same numbers.", "note"),
        Bullets([f.text for f in ctx.findings] or ["No findings could be computed."], "finding"),
    ])
