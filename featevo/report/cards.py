"""Section 7, feature cards: the most interesting labelled latents, each pair side by side with its
labels, scores and top-activating contexts (stage 03's contexts files)."""

from __future__ import annotations

from typing import Optional

from featevo.layout import DELTAS, INTERPRET, DeltasFiles, InterpretFiles
from featevo.report.common import source, split_label, text_or_missing
from featevo.report.context import ReportContext
from featevo.report.templates import (
    MISSING, Card, Cards, CardSide, Context, Para, Section, fci, finite, fint, fnum, fp, fpct, fsig,
)


def contexts_for(ctx: ReportContext, side: str, latent: Optional[int]) -> list[Context]:
    """The first ``report.contexts_per_card`` saved contexts of a latent."""
    if latent is None:
        return []
    raw = (ctx.up.contexts.get(side) or {}).get("latents", {}).get(str(latent)) or []
    out = []
    for c in raw[: ctx.cfg.report.contexts_per_card]:
        toks, acts = c.get("tokens") or [], c.get("acts") or []
        if not toks:
            continue
        acts = [float(a) if finite(a) else 0.0 for a in acts]
        m = c.get("max_act")
        note = ", ".join(str(c[k]) for k in ("source", "category") if isinstance(c.get(k), str) and c[k])
        out.append(Context(tokens=[str(t) for t in toks], acts=acts,
                           max_act=float(m) if finite(m) else max(acts, default=0.0), doc=str(c.get("doc", "")),
                           note=note))
    return out


def card_side(ctx: ReportContext, side: str, r: dict, cls: str) -> CardSide:
    latent = r[f"{side}_latent"]
    if latent is None:
        other = "tuned" if side == "base" else "base"
        reason = (f"No {side} latent: the {other} latent has no matched partner"
                  + (f" (class {cls})." if cls not in (None, MISSING) else "."))
        return CardSide(side, None, "", [], [], reason)
    label, why = split_label(r[f"{side}_label"])
    facts = [("detection", fnum(r[f"{side}_detection"], 2)),
             ("shuffled", fnum(r[f"{side}_detection_shuffled"], 2)),
             ("fuzzing", fnum(r[f"{side}_fuzzing"], 2)),
             (f"{ctx.domains[0]} score", fsig(ctx.up.feature_value(r["pair_id"], f"{side}_target_score")))]
    freq = ctx.up.latent_value(side, latent, "firing_frequency")
    if finite(freq):
        facts.append(("fires on", fpct(freq, 2) + " of tokens"))
    contexts = contexts_for(ctx, side, latent)
    reason = "" if contexts else (f"No activating contexts saved for this latent in "
                                  f"`{source(DELTAS, DeltasFiles.CONTEXTS)}`.")
    if label == MISSING:
        label = f"{MISSING} (no usable explanation{': ' + why if why else ''})"
    return CardSide(side, latent, label, facts, contexts, reason)


def card(ctx: ReportContext, i: int, r: dict) -> Card:
    pid, b, t = r["pair_id"], r["base_latent"], r["tuned_latent"]
    cls = text_or_missing(r["class"])
    if pid is not None:
        title = f"Pair {fint(pid)}: base latent {fint(b)} → tuned latent {fint(t)}"
        change = f"{fsig(r['did'], signed=True)} {fci(r['did_ci_low'], r['did_ci_high'])}".strip()
        facts = [("class", str(cls)), ("decoder cosine", fnum(ctx.up.pair_value(pid, "decoder_cosine"), 2)),
                 ("activation corr.", fnum(ctx.up.pair_value(pid, "activation_correlation"), 2)),
                 ("domain-specific change", change), ("seed-calibrated q", fp(r["q_calibrated"]))]
    else:
        side = "tuned" if t is not None else "base"
        title = f"{side.capitalize()} latent {fint(t if t is not None else b)} (no matched partner)"
        best = ctx.up.latent_value(side, t if t is not None else b, "best_decoder_cosine")
        facts = [("class", str(cls)), ("best decoder cosine to the other SAE", fnum(best, 2))]
    return Card(f"card-{i}", title, facts, card_side(ctx, "base", r, cls), card_side(ctx, "tuned", r, cls))


def cards_section(ctx: ReportContext) -> Section:
    sec = Section("cards", "Feature cards")
    n = ctx.cfg.report.feature_cards
    sec.add(Para(
        f"The {fint(min(n, len(ctx.up.interpret.labels)))} most interesting labelled latents (stage 03's ranking, "
        "then the size of the change). Each context is a probe or held-out window around a top activation; the "
        "shade of a token is its activation relative to the strongest shown for that latent (hover for the value), "
        "the outlined token is the maximum. Base in blue, tuned in orange."))
    cards = [card(ctx, i + 1, r) for i, r in enumerate(ctx.ordered_labels()[:n])]
    if cards:
        sec.add(Cards(cards))
    else:
        sec.add(Para(f"{MISSING} No labelled latents in `{source(INTERPRET, InterpretFiles.LABELS)}`.", "note"))
    return sec
