"""The report's first answer: which latents fine-tuning changed in a domain-specific way, from the fixed-dictionary
lens of ``02_model_diffing`` (one SAE encodes every model's activations of identical tokens). Rendered from the
lens's summary and claims (re-derived with :func:`featevo.claims.evaluate`); it makes no claim of its own. A null is
worded "not detectable with this design at this power", beside its smallest attainable p."""

from __future__ import annotations

from featevo.claims import evaluate
from featevo.report.context import ReportContext
from featevo.report.templates import Bullets, Para, fint, fnum, fp, fsigned

LENS = "fixed_dictionary"


def _claims(ctx: ReportContext) -> dict:
    d = getattr(getattr(ctx, "up", None), "diffing", None)
    if d is None:
        return {}
    return {c["id"].split(":", 1)[1]: evaluate(c) for c in (d.claims or []) if c.get("lens") == LENS}


def _top(latents: list[dict], n: int = 5) -> str:
    return ", ".join(f"latent {fint(x['latent'])} {fsigned(x['estimate'], 3)} [{fnum(x['ci_low'], 3)}, "
                     f"{fnum(x['ci_high'], 3)}]" for x in latents[:n])


def answer_blocks(ctx: ReportContext) -> list:
    """"The answer": the domain-specific change (tuned twin beyond the control twin, beyond twin-training noise)
    and its latents with intervals, or the null in plain words; then the lens's own controls."""
    d = getattr(getattr(ctx, "up", None), "diffing", None)
    fd = ((d.summary if d is not None else {}) or {}).get(LENS) or {}
    cl = _claims(ctx)
    if not fd.get("available") or not cl:
        return []
    tgt, ref = ctx.cfg.data.target_domain, ctx.cfg.data.reference_domain
    main = cl.get("control~tuned") or {}
    br = fd.get("beyond_replica") or {}
    rep = cl.get("beyond_replica")
    what = (f"the {tgt}-vs-{ref} preference of latents changed under the twin fine-tuned on {tgt} text beyond the "
            f"change made by the same fine-tuning on {ref} text (the control twin)")
    mt = main.get("test") or {}
    if rep is not None and rep.get("supported"):
        per = br["per_dictionary"]
        first = next(iter(per))
        e = per[first]
        held = len((br.get("robust") or {}).get("held") or [])
        text = (f"**The answer.** Yes: {what}, and beyond twin-training noise (a replica of the tuned twin). "
                f"{fint(e['survivors'])} of {fint(rep['observed'].get('n'))} latents of dictionary `{first}` survive "
                f"the replica ({fint(e['toward_target'])} toward {tgt}, {fint(e['toward_reference'])} toward {ref}); "
                f"per dictionary: " + ", ".join(f"`{n}` {fint(v['survivors'])}" for n, v in per.items())
                + f"; {fint(held)} hold across every dictionary (matched by decoder). p = {fp(rep['test']['p'])} "
                f"(Simes, the largest over dictionaries; smallest attainable {fp(rep['test']['min_attainable_p'])}). "
                f"Largest changes (difference in differences of activation, 95% template interval): "
                f"{_top(e['latents'])}.")
    elif main.get("supported"):
        tail = (" but not beyond twin-training noise (the replica): not detectable with this design at this power "
                f"(p = {fp(rep['test']['p'])}, smallest attainable {fp(rep['test']['min_attainable_p'])})"
                if rep is not None else
                "; twin-training noise is in no null (no replica twin, twin.replica is false), so this may be "
                "the noise of training one twin")
        text = (f"**The answer.** Partly: {what}, beyond template sampling (about "
                f"{fint(main['observed'].get('count'))} of "
                f"{fint(main['observed'].get('n'))} latents per dictionary at BH q <= {fnum(mt.get('alpha'), 2)}; "
                f"p = {fp(mt.get('p'))}, smallest attainable {fp(mt.get('min_attainable_p'))}),{tail}.")
    else:
        text = (f"**The answer.** Not detectable with this design at this power: {what} (p = {fp(mt.get('p'))}, "
                f"smallest attainable {fp(mt.get('min_attainable_p'))}).")
    out = [Para(text, "lead")]
    ctrl = []
    pos, neg = cl.get("tuned~planted"), cl.get("sham")
    if pos is not None:
        ctrl.append(("Passes" if pos["supported"] else "FAILS") + ": the lens finds the planted change (planted twin "
                    f"beyond the tuned twin; p = {fp(pos['test']['p'])}, smallest attainable "
                    f"{fp(pos['test'].get('min_attainable_p'))}).")
    rank = (((d.planted or {}).get("lenses") or {}).get(LENS) or {}).get("planted") if d is not None else None
    if rank and rank.get("rank") is not None:
        aim = ((d.planted or {}).get("aim") or {}).get("rank_at_most")
        ok = rank.get("meets_aim", aim is not None and rank["rank"] <= aim)
        ctrl.append(("Passes" if ok else "FAILS") + f": scored on change (the rule fixed before the run), the latent "
                    f"whose activation change marks the planted words ranks {fint(rank['rank'])} of "
                    f"{fint(rank.get('n_latents'))} in the lens's localised change (aim: rank <= {fint(aim)}; p = "
                    f"{fp(rank.get('p_rank'))}, smallest attainable {fp(rank.get('min_attainable_p_rank'))}).")
    if neg is not None:
        vac = neg.get("vacuous")
        ctrl.append(("FAILS" if neg["supported"] else ("Passes (vacuously)" if vac else "Passes"))
                    + f": with sham domain labels (a true null) the lens finds no change (p = {fp(neg['test']['p'])}, "
                    f"smallest attainable {fp(neg['test'].get('min_attainable_p'))}; "
                    f"{fint(neg['observed'].get('count'))} latents at BH q <= alpha per dictionary).")
    if ctrl:
        out.append(Bullets(ctrl, "controls"))
    return out
