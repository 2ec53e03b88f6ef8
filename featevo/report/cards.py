"""Section 7, feature cards: the most interesting labelled latents, each pair side by side with its
labels, scores and top-activating contexts (stage 03's contexts files); then a few new latents (unmatched in
the tuned SAE), lost latents (unmatched in the base SAE) and the most rotated matched pairs (lowest decoder
cosine), ``report.change_cards`` each.

:func:`plan_cards` runs before the sections are built: it fixes which latents get a card and their anchors
(``card-<sae>-<latent>``), so that every table naming such a latent links to its card. A flagged label
(featevo.report.quality) is never a card's headline: the headline says "no reliable label" and the label
follows in small grey text, with its marks."""

from __future__ import annotations

from typing import Optional

from featevo.layout import DELTAS, INTERPRET, DeltasFiles, InterpretFiles
from featevo.report.common import SAE_ORDER, source, split_label, text_or_missing
from featevo.report.context import ReportContext
from featevo.report.quality import legend
from featevo.scorers import shown_scorers
from featevo.report.templates import (
    MISSING, Card, Cards, CardSide, Context, Para, Section, fci, finite, fint, fnum, fp, fpct, fsig,
)

LABELLED = "labelled"
GROUP_HEADINGS = {LABELLED: "Most interesting labelled latents", "new": "New latents (tuned SAE, no matched partner)",
                  "lost": "Lost latents (base SAE, no matched partner)",
                  "rotated": "Most rotated matched pairs (lowest decoder cosine)"}


def anchor(sae: str, latent) -> str:
    return f"card-{sae}-{latent}"


def _row_for(ctx: ReportContext, pair_id, base_latent, tuned_latent, cls) -> dict:
    """A labels-table-like row for a latent or pair: stage 04's row when it labelled one of them, else blank
    labels with stage 03's change of the pair."""
    for r in ctx.up.interpret.labels:
        if (pair_id is not None and r["pair_id"] == pair_id) or (
                pair_id is None and ((base_latent is not None and r["base_latent"] == base_latent)
                                     or (tuned_latent is not None and r["tuned_latent"] == tuned_latent))):
            return r
    r = {"pair_id": pair_id, "base_latent": base_latent, "tuned_latent": tuned_latent, "class": cls,
         **{k: ctx.up.feature_value(pair_id, k) for k in ("did", "did_ci_low", "did_ci_high", "q_calibrated")}}
    return r | {f"{side}_label": None for side in SAE_ORDER}


def _unmatched(ctx: ReportContext, sae: str, cls: str, taken: set) -> list[dict]:
    """The SAE's latents of class ``cls`` that fire, most novel first (lowest best decoder cosine to the other
    SAE), without a card yet."""
    rows = [r for r in ctx.up.compare.latents if r["sae"] == sae and r["class"] == cls
            and finite(r["firing_frequency"]) and r["firing_frequency"] > 0 and (sae, r["latent"]) not in taken]
    rows.sort(key=lambda r: (r["best_decoder_cosine"] if finite(r["best_decoder_cosine"]) else 2.0, r["latent"]))
    n = ctx.cfg.report.change_cards
    other = "tuned" if sae == "base" else "base"
    return [_row_for(ctx, None, r["latent"] if sae == "base" else None, r["latent"] if sae == "tuned" else None,
                     cls) | {f"{other}_latent": None} for r in rows[:n]]


def _rotated(ctx: ReportContext, taken: set) -> list[dict]:
    pairs = [p for p in ctx.up.compare.matched_pairs() if finite(p["decoder_cosine"])
             and ("base", p["base_latent"]) not in taken and ("tuned", p["tuned_latent"]) not in taken]
    pairs.sort(key=lambda p: (p["decoder_cosine"], p["pair_id"]))
    return [_row_for(ctx, p["pair_id"], p["base_latent"], p["tuned_latent"], p["class"])
            for p in pairs[: ctx.cfg.report.change_cards]]


def plan_cards(ctx: ReportContext) -> None:
    """Choose the carded latents (``ctx.card_plan``: (group, rows)) and their anchors (``ctx.carded``)."""
    plan: list[tuple[str, list[dict]]] = [(LABELLED, ctx.ordered_labels()[: ctx.cfg.report.feature_cards])]
    taken: set = set()

    def take(rows: list[dict]) -> None:
        for r in rows:
            for side in SAE_ORDER:
                if r[f"{side}_latent"] is not None:
                    taken.add((side, r[f"{side}_latent"]))

    take(plan[0][1])
    if ctx.cfg.report.change_cards:
        for group, rows_fn in (("new", lambda: _unmatched(ctx, "tuned", "new", taken)),
                               ("lost", lambda: _unmatched(ctx, "base", "lost", taken)),
                               ("rotated", lambda: _rotated(ctx, taken))):
            rows = rows_fn()
            take(rows)
            if rows:
                plan.append((group, rows))
    ctx.card_plan = plan
    ctx.carded = {key: anchor(*key) for key in taken}


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


def latent_hist(ctx: ReportContext, side: str, latent: int) -> tuple[str, str]:
    """(inline SVG, note) of the latent's activation histogram on stage 01's eval split, drawn from stage 03's
    ``activation_histograms.csv``; ("", "") when stage 03 has no row for it (featevo.report.histograms)."""
    from featevo.report.histograms import hist_svg
    from featevo.report.templates import BASE_RGB, TUNED_RGB
    from featevo.results import load_histograms

    if "table" not in ctx.hist_cache:
        ctx.hist_cache["table"] = load_histograms(ctx.up.dirs[DELTAS])
    row = ctx.hist_cache["table"].get((side, latent))
    if row is None:
        return "", ""
    return hist_svg(row, BASE_RGB if side == "base" else TUNED_RGB)


def score_facts(ctx: ReportContext, side: str, latent) -> list[tuple[str, str]]:
    """A card's scores: each shown scorer's (featevo.scorers.shown_scorers), the first one's floor after it."""
    res, facts = ctx.up.interpret, []
    for i, m in enumerate(shown_scorers()):
        facts.append((m, fnum(res.score(side, latent, m), 2)))
        if i == 0:
            facts.append(("shuffled", fnum(res.score(side, latent, m, "floor"), 2)))
    return facts


def card_side(ctx: ReportContext, side: str, r: dict, cls: str) -> CardSide:
    latent = r[f"{side}_latent"]
    if latent is None:
        other = "tuned" if side == "base" else "base"
        reason = (f"No {side} latent: the {other} latent has no matched partner"
                  + (f" (class {cls})." if cls not in (None, MISSING) else "."))
        return CardSide(side, None, "", [], [], reason)
    label, why = split_label(r[f"{side}_label"])
    flags = ctx.flags(side, latent) if label != MISSING else []
    ctx.marks_used.update(f.kind for f in flags)
    badges = [(f.mark, f.title) for f in flags] + ctx.latent_badges(side, latent)
    facts = score_facts(ctx, side, latent) if r[f"{side}_label"] is not None else []
    facts.append((f"{ctx.domains[0]} score", fsig(ctx.up.feature_value(r["pair_id"], f"{side}_target_score"))))
    freq = ctx.up.latent_value(side, latent, "firing_frequency")
    if finite(freq):
        facts.append(("fires on", fpct(freq, 2) + " of tokens"))
    contexts = contexts_for(ctx, side, latent)
    reason = "" if contexts else (f"No activating contexts saved for this latent in "
                                  f"`{source(DELTAS, DeltasFiles.CONTEXTS)}`.")
    if label == MISSING:
        label = (f"{MISSING} (no usable explanation{': ' + why if why else ''})" if why or r[f"{side}_label"]
                 else f"{MISSING} (not labelled by stage 04)")
    svg, note = latent_hist(ctx, side, latent)
    return CardSide(side, latent, label, facts, contexts, reason, anchor=ctx.carded.get((side, latent), ""),
                    badges=badges, unreliable=bool(flags), hist_svg=svg, hist_note=note)


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
    if not ctx.card_plan:
        plan_cards(ctx)
    labelled = dict(ctx.card_plan).get(LABELLED, [])
    n_change = ctx.cfg.report.change_cards
    sec.add(Para(
        f"The {fint(len(labelled))} most interesting labelled latents (stage 03's ranking, then the size of the "
        "change)" + (f", then up to {fint(n_change)} each of the new latents and the lost latents (unmatched; "
                     "lowest best decoder cosine to the other SAE first) and of the most rotated matched pairs "
                     "(lowest decoder cosine)" if n_change else "") +
        ". Each context is a probe or held-out window around a top activation; the "
        "shade of a token is its activation relative to the strongest shown for that latent (hover for the value), "
        "the outlined token is the maximum. Base in blue, tuned in orange."))
    i = 0
    for group, rows in ctx.card_plan:
        cards = []
        for r in rows:
            i += 1
            cards.append(card(ctx, i, r))
        if cards:
            sec.add(Cards(cards, GROUP_HEADINGS[group] if len(ctx.card_plan) > 1 else ""))
    if not labelled:
        sec.add(Para(f"{MISSING} No labelled latents in `{source(INTERPRET, InterpretFiles.LABELS)}`.", "note"))
    kinds = [k for k in ("echo", "duplicate", "floor", "dense") if k in ctx.marks_used]
    if kinds:
        sec.add(Para(legend(kinds, ctx.cfg.report.dense_threshold), "note"))
    return sec
