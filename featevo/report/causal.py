"""Section: do the flagged latents do anything for the tuned model? (stage ``03_causal``)

How to read it. Each latent that stage 03 flags in the tuned model's SAE is switched off (**ablate**) or set to the
value the base model's activation gives it (**patch**) inside the tuned model, and the change of the masked-LM loss
is measured on target-domain and on reference-domain probe sentences (``data.target_domain`` /
``data.reference_domain``; intervened minus clean; difference = target minus reference), each with a cluster-
bootstrap interval over probe templates. Beside every effect stands its null: the same intervention on random
latents of the same SAE matched to the flagged latents' firing frequencies (the effect's percentile among them and
the empirical p-value). A latent *beats the null* when that p <= alpha and its interval excludes 0. The count of
latents that beat the null is set against alpha times the flagged latents (what chance gives) with an exact binomial
test. The **splice identity** checks that an untouched splice reproduces the clean model; the **planted positive
control** ablates the planted twin's latent for the planted word, which must raise the loss at that word beyond
every random latent.
"""

from __future__ import annotations

from typing import Optional

from featevo.claims import supported
from featevo.layout import CAUSAL, CausalFiles, ReportFiles
from featevo.report.common import absent_stage, dig, num, plural, source
from featevo.report.context import ReportContext
from featevo.report.evidence import claim_values
from featevo.report.templates import MISSING, Para, Section, Table, fci, finite, fint, fnum, fp, fpct, fsig

KIND_WORDS = {"ablate": "Ablating", "patch": "Patching to base values"}
IDENTITY_TOL = 1e-4
"""Largest |logit difference| of an untouched splice accepted as float round-off."""


def _s(ctx: ReportContext) -> dict:
    return ctx.up.causal.summary or {}


def _unit(ctx: ReportContext) -> str:
    return "nats per masked token" if _s(ctx).get("measure") == "mlm_loss" else "nats per sentence"


def effect_table(ctx: ReportContext) -> Table:
    rows = []
    flagged = [r for r in ctx.up.causal.effects if r["role"] == "flagged"]
    flagged.sort(key=lambda r: (r["intervention"] or "", r["rank"] if r["rank"] is not None else 1 << 30))
    for r in flagged:
        rows.append([ctx.latent_cell(r["sae"] or "", r["latent"]), num(fint(r["rank"])), r["intervention"] or MISSING,
                     num(fpct(r["firing_frequency"], 2)),
                     num(f"{fsig(r['target_effect'], 3, True)} {fci(r['target_ci_low'], r['target_ci_high'])}"),
                     num(f"{fnum(r['target_null_percentile'], 0)} / {fp(r['target_null_p'])}"),
                     num(f"{fsig(r['reference_effect'], 3, True)} "
                         f"{fci(r['reference_ci_low'], r['reference_ci_high'])}"),
                     num(f"{fsig(r['diff_effect'], 3, True)} {fci(r['diff_ci_low'], r['diff_ci_high'])}"),
                     num(f"{fnum(r['diff_null_percentile'], 0)} / {fp(r['diff_null_p'])}"),
                     "yes" if r["beats_null_target"] else "no", "yes" if r["beats_null_diff"] else "no"])
    s = _s(ctx)
    notes = [f"Effect: intervened minus clean loss ({_unit(ctx)}) [cluster-bootstrap {fpct(s.get('ci'), 0)} "
             f"interval]. Null: {fint(s.get('n_random'))} frequency-matched random latents under the same "
             f"intervention; percentile of the effect among them / two-sided empirical p (smallest attainable "
             f"{fp(s.get('min_attainable_p'))}). Beats the null: p <= {s.get('alpha', MISSING)} and the interval "
             "excludes 0."]
    t, g = ctx.domains
    return Table("tbl-causal-effects", ["latent", "rank", "intervention", "firing", f"{t} effect [CI]",
                                        "null percentile / p", f"{g} effect [CI]", f"{t} - {g} [CI]",
                                        "null percentile / p", f"beats null ({t})", "beats null (difference)"],
                 rows, caption="Each flagged latent's effect beside the random-latent null", notes=notes,
                 source=source(CAUSAL, CausalFiles.EFFECTS))


def null_table(ctx: ReportContext) -> Optional[Table]:
    iv = _s(ctx).get("interventions") or {}
    rows = []
    t, g = ctx.domains
    for kind, v in iv.items():
        for stat, lab in (("target", t), ("reference", g), ("diff", f"{t} - {g}")):
            d = dig(v, "null", stat, default={})
            f = dig(v, "flagged_effects", stat, default={})
            rows.append([kind, lab, num(fint(d.get("n"))), num(fsig(d.get("median"), 3, True)),
                         num(fci(d.get("p05"), d.get("p95"))), num(fsig(f.get("median"), 3, True)),
                         num(fci(f.get("min"), f.get("max")))])
    if not rows:
        return None
    return Table("tbl-causal-null", ["intervention", "text", "random latents", "null median", "null 5th–95th pct",
                                     "flagged median", "flagged range"], rows,
                 caption="The random-latent null per intervention, beside the flagged latents",
                 source=source(CAUSAL, CausalFiles.SUMMARY))


def causal_claims(ctx: ReportContext, role: str) -> list[dict]:
    """The claims stage 03_causal made with role ``role`` (in the stage's order)."""
    return [c for c in ctx.up.causal.claims if c.get("role") == role]


def beat_sentence(kind: str, stat: str, c: dict, domains: tuple[str, str] = ("financial", "general")) -> str:
    obs, nul = c["observed"], c["null"]
    what = f"on {domains[0]} text" if stat == "target" else f"on {domains[0]} minus {domains[1]} text"
    text = (f"{KIND_WORDS.get(kind, kind)}: {fint(obs.get('count'))} of {fint(obs.get('n'))} flagged "
            f"{plural(obs.get('n'), 'latent')} change the loss {what} beyond the random-latent null "
            f"({fint(obs.get('after_bh'))} after Benjamini-Hochberg) against {fnum(nul.get('expected_count'), 1)} "
            f"expected by chance; ")
    if obs.get("estimate") is None:
        return text + "not testable (no flagged latents)."
    p_min = c["test"].get("min_attainable_p")
    return text + ("this exceeds chance" if supported(c) else "this does not exceed chance") + (
        f" (one-sided binomial p = {fp(c['test'].get('p'))}, smallest attainable {fp(p_min)}).")


def _min_p(n_null) -> float | None:
    """Smallest attainable one-sided empirical p against ``n_null`` random latents: 1 / (n_null + 1)."""
    return 1.0 / (n_null + 1.0) if finite(n_null) else None


def planted_block(ctx: ReportContext) -> list:
    p = _s(ctx).get("planted_control")
    planted = causal_claims(ctx, "positive_control")
    if not isinstance(p, dict) or not planted:
        return [Para("No planted positive control (no planted twin in this run).", "note")]
    c = planted[0]
    ok = supported(c)
    nul = p.get("null") or {}
    ci = fci(*(p.get("ci") or [None] * 2))
    rows = [["planted latent", num(fint(p.get("latent")))], ["AUROC for the planted tokens", num(fnum(p.get("auroc")))],
            ["planted tokens scored", num(fint(p.get("planted_tokens")))],
            ["loss change when ablated [CI]", num(f"{fsig(p.get('effect'), 3, True)} {ci}")],
            ["random latents (null)", num(fint(nul.get("n")))],
            ["null median [5th–95th pct]",
             num(f"{fsig(nul.get('median'), 3, True)} {fci(nul.get('p05'), nul.get('p95'))}")],
            ["largest random latent", num(fsig(nul.get("max"), 3, True))],
            ["percentile / one-sided p", num(f"{fnum(p.get('null_percentile'), 0)} / {fp(p.get('null_p'))}")],
            ["smallest attainable p", num(fp(_min_p(nul.get("n"))))],
            ["beats the null", "yes" if ok else "no"]]
    text = (f"Positive control: ablating the planted twin's latent {fint(p.get('latent'))} (AUROC "
            f"{fnum(p.get('auroc'), 2)}) changes the loss at the planted words by {fsig(p.get('effect'), 3, True)} "
            f"{ci} against a random-latent median of {fsig(nul.get('median'), 3, True)} "
            f"(largest {fsig(nul.get('max'), 3, True)}; one-sided p = {fp(p.get('null_p'))}, smallest attainable "
            f"{fp(_min_p(nul.get('n')))}); "
            + ("the intervention machinery detects a latent the model needs." if ok else
               "it does not beat the null, so a null result for the flagged latents says little."))
    ctx.find("causal_planted", text, claims=[claim_values(c)], supported=ok, role="positive_control",
             lens="causal interventions",
             effect=p.get("effect"), ci=p.get("ci"), null_p=p.get("null_p"), null_median=nul.get("median"),
             null_max=nul.get("max"))
    return [Table("tbl-causal-planted", ["item", "value"], rows,
                  caption="Positive control: the planted latent ablated inside the planted twin",
                  source=source(CAUSAL, CausalFiles.SUMMARY))]


def identity_finding(ctx: ReportContext) -> Optional[Para]:
    si = _s(ctx).get("splice_identity") or {}
    h, lg = si.get("max_abs_hidden_diff"), si.get("max_abs_logit_diff")
    if not (finite(h) and finite(lg)):
        return None
    ok = h == 0 and lg <= IDENTITY_TOL
    text = (f"Splice identity: an untouched splice over {fint(si.get('docs'))} probe sentences changes the hidden "
            f"state by {'exactly 0' if h == 0 else f'at most {fsig(h)}'} and the output logits by "
            f"{'exactly 0' if lg == 0 else f'at most {fsig(lg)}'}; "
            + (f"the check passes (tolerance {IDENTITY_TOL:g})." if ok else
               f"the check fails (tolerance {IDENTITY_TOL:g}), so the effects below are not trustworthy."))
    ctx.find("causal_identity", text, supported=ok, role="check", lens="causal interventions", passed=ok,
             tolerance=IDENTITY_TOL, **si)
    return Para(text, "note")


def causal_section(ctx: ReportContext) -> Section:
    sec = Section("causal", "Causal checks: interventions on the flagged latents")
    if absent_stage(ctx, sec, ctx.up.causal, CAUSAL, "causal", "No causal checks",
                    "The causal checks are not in this report"):
        return sec
    sec.add(Para(__doc__.split("How to read it. ", 1)[1].replace("\n", " ").strip()))
    p = identity_finding(ctx)
    if p is not None:
        sec.add(p)
    sec.add(effect_table(ctx))
    t = null_table(ctx)
    if t is not None:
        sec.add(t)
    for c in causal_claims(ctx, "claim"):
        kind, stat = c["intervention"], c["effect"]
        ctx.find(f"causal_{kind}_{stat}", beat_sentence(kind, stat, c, ctx.domains), claims=[claim_values(c)],
                 supported=supported(c), lens="causal interventions", beat_null=c["observed"].get("count"),
                 flagged=c["observed"].get("n"),
                 after_bh=c["observed"].get("after_bh"), expected=c["null"].get("expected_count"))
    sec.add(*planted_block(ctx))
    fig = ctx.copy_figure(ctx.up.dirs[CAUSAL] / CausalFiles.EFFECTS_FIG, ReportFiles.CAUSAL_EFFECTS)
    sec.add(*ctx.figure_block(fig, "Each flagged latent's effect with its interval (orange) beside the random latents' "
                                   "(grey), per intervention; last panel: the planted positive control.",
                              "Causal effects against random latents", "fig-causal-effects"))
    return sec
