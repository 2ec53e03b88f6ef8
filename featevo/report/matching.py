"""Section 4, feature matching against the seed spread: every family of SAE comparisons (fine-tuning, seed,
control, ...) side by side, the claims stage 02 makes (each against its null), latent classes, the continuum
behind "new" and "lost", dictionary-size stability, transfer, and how wrong *feature i vs feature i* is."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from featevo.layout import COMPARE, CompareFiles, ReportFiles
from featevo.report.common import dig, num, source
from featevo.report.context import ReportContext
from featevo.report.evidence import by_id, claims_table, fdist, find_claim, stat_label
from featevo.report.templates import MISSING, Para, Section, Table, finite, fint, fnum, fpct, fsigned

FAMILY_ORDER = ("fine-tuning", "seed", "control", "planted", "wide-seed")
FAMILY_HEADS = {"fine-tuning": "base vs tuned", "seed": "seed pairs (baseline)", "control": "base vs control twin",
                "planted": "tuned vs planted", "wide-seed": "wide seed pairs"}
TABLE_STATS = ("matched_fraction", "shared_fraction", "mean_pair_cosine", "agreement", "above_chance_fraction",
               "new", "lost")
CLASS_ROWS = (("shared", lambda s: s.get("shared")),
              ("shifted", lambda s: _diff(s.get("matched"), s.get("shared"))),
              ("split (second SAE)", lambda s: s.get("split_b")), ("new (second SAE)", lambda s: s.get("new")),
              ("split (first SAE)", lambda s: s.get("split_a")), ("lost (first SAE)", lambda s: s.get("lost")),
              ("dead (second SAE)", lambda s: s.get("dead_b")))
STAGE_FIGURES = (
    (CompareFiles.SIMILARITY_HIST, ReportFiles.SIMILARITY_HIST,
     "Decoder cosine and activation correlation of the Hungarian-matched pairs per family of comparisons (pooled "
     "over its comparisons), with the class thresholds and the chance level."),
    (CompareFiles.MATCHED_SCATTER, ReportFiles.MATCHED_SCATTER,
     "Every matched pair of every family: decoder cosine against activation correlation; the thresholds split "
     "the plane into the classes."),
    (CompareFiles.CONTINUUM, ReportFiles.CONTINUUM,
     "The continuum behind new and lost: the fraction of latents whose best decoder cosine to the other SAE reaches "
     "each threshold, per family (line: mean, band: range), against the chance level."),
)


def _diff(a: Any, b: Any) -> Optional[int]:
    return a - b if finite(a) and finite(b) else None


def _summary(ctx: ReportContext) -> dict:
    return ctx.up.compare.summary or {}


def families(ctx: ReportContext) -> list[str]:
    fs = _summary(ctx).get("family_stats") or {}
    return [f for f in FAMILY_ORDER if f in fs] + [f for f in fs if f not in FAMILY_ORDER]


def intro(ctx: ReportContext) -> Para:
    cmp_ = _summary(ctx)
    th = cmp_.get("thresholds", {}) or {}
    sh = th.get("shared_threshold", ctx.cfg.compare.shared_threshold)
    nt = th.get("new_threshold", ctx.cfg.compare.new_threshold)
    sc = th.get("shifted_correlation", ctx.cfg.compare.shifted_correlation)
    return Para(
        "Every model has several SAEs trained with different seeds, so every statistic is measured for each pair "
        "of SAEs of a family: **base vs tuned** (the study's comparison, every seed pair), **seed pairs** (two "
        "SAEs of one model: what seed noise alone gives, the baseline), **base vs control twin** (the same "
        f"fine-tuning recipe on {ctx.domains[1]} text), the planted positive control and two seeds of a wider "
        "dictionary. "
        "A change is claimed only when the base-vs-tuned family differs from the seed family in an exact "
        "permutation test. Classes of a latent and its decoder partner (decoder cosine c, activation correlation "
        f"r over the same {fint(cmp_.get('token_rows'))} tokens): **shared** c >= {fnum(sh, 2)} and r >= "
        f"{fnum(sc, 2)}; **shifted** c >= {fnum(nt, 2)} but not shared; **new** (second SAE) / **lost** (first "
        f"SAE): no latent of the other SAE reaches c = {fnum(nt, 2)}; **split**: its own partner is below "
        f"{fnum(nt, 2)} but another latent is above it; **dead**: never fired.")


def family_table(ctx: ReportContext) -> Table:
    fams = families(ctx)
    fs = _summary(ctx).get("family_stats") or {}
    rows = [[stat_label(s, ctx.domains), *[num(fdist(fs[f].get(s), s)) for f in fams]] for s in TABLE_STATS]
    rows.append(["comparisons", *[num(fint(len(fs[f].get("comparisons") or []))) for f in fams]])
    notes = ["Each cell: mean over the family's comparisons [smallest–largest]; every comparison is a pair of "
             "SAEs with their own seeds. New / lost count latents of the second / first SAE of a comparison."]
    if "seed" not in fams:
        notes.append("No seed pairs (sae.seeds = 1): no statistic here can be told apart from seed noise.")
    return Table("tbl-matching", ["statistic", *[FAMILY_HEADS.get(f, f) for f in fams]], rows,
                 caption="Hungarian matching per family of comparisons", notes=notes,
                 source=source(COMPARE, CompareFiles.COMPARISONS))


def classes_table(ctx: ReportContext) -> Table:
    """Class counts of the primary comparison beside the fine-tuning and seed families' mean [range]."""
    s = _summary(ctx)
    comps = s.get("comparisons") or {}
    prim = dig(comps, s.get("primary"), "stats", default={})
    fams = [f for f in ("fine-tuning", "seed", "control") if f in families(ctx)]
    rows = []
    for label, get in CLASS_ROWS:
        cells = [label, num(fint(get(prim)))]
        for f in fams:
            vals = [get(c.get("stats") or {}) for c in comps.values() if c.get("family") == f]
            vals = [v for v in vals if finite(v)]
            cells.append(num(_dist_txt(vals)))
        rows.append(cells)
    return Table("tbl-classes", ["class", f"{s.get('primary', MISSING)} (primary)",
                                 *[FAMILY_HEADS[f] for f in fams]], rows,
                 caption="Latents per class: the primary comparison against each family", source=source(
                     COMPARE, CompareFiles.COMPARISONS),
                 notes=["Families: mean over their comparisons [smallest–largest]. In a seed pair the second "
                        "SAE's unmatched latents count as new and the first's as lost, exactly as for base vs "
                        "tuned."])


def _dist_txt(vals: list) -> str:
    if not vals:
        return MISSING
    m = sum(vals) / len(vals)
    return fint(vals[0]) if len(vals) == 1 else f"{fnum(m, 1)} [{fint(min(vals))}–{fint(max(vals))}]"


def continuum_table(ctx: ReportContext) -> Optional[Table]:
    s = _summary(ctx)
    grid = s.get("continuum_grid") or []
    comps = s.get("comparisons") or {}
    fams = families(ctx)
    if not grid or not comps:
        return None
    rows = []
    for t in grid:
        key = f"{t:g}"
        cells = [f"best cosine >= {t:g}"]
        for f in fams:
            vals = [dig(c, "continuum", side, "fraction_at_or_above", key) for c in comps.values()
                    if c.get("family") == f for side in ("a", "b")]
            vals = [v for v in vals if finite(v)]
            cells.append(num(f"{fpct(sum(vals) / len(vals))} [{fpct(min(vals))}–{fpct(max(vals))}]" if vals
                             else MISSING))
        rows.append(cells)
    ch = s.get("chance_best_decoder_cosine") or {}
    notes = [f"Fraction of live latents (both SAEs of each comparison) whose best decoder cosine to the other SAE "
             f"reaches the threshold: mean [range] over the family. Chance (99th percentile of the best cosine of a "
             f"random direction): {fnum(dig(ch, 'main', 'p99'), 3)} at the main size"
             + (f", {fnum(dig(ch, 'wide', 'p99'), 3)} at the wide size" if ch.get("wide") else "") + ". The "
             "new/lost threshold is one cut through this continuum."]
    return Table("tbl-continuum", ["", *[FAMILY_HEADS.get(f, f) for f in fams]], rows,
                 caption="Best decoder cosines: the whole continuum, per family", notes=notes,
                 source=source(COMPARE, CompareFiles.SUMMARY))


def size_table(ctx: ReportContext) -> Optional[Table]:
    ds = _summary(ctx).get("dictionary_size") or {}
    sizes = [k for k in ("main", "wide") if isinstance(ds.get(k), dict)]
    if not sizes:
        return None
    rows = [[f"{fint(ds[k].get('num_latents'))} latents", num(fint(len(ds[k].get("comparisons") or []))),
             num(fdist(ds[k].get("matched_fraction"), "matched_fraction")),
             num(fdist(ds[k].get("shared_fraction"), "shared_fraction")),
             num(fdist(ds[k].get("above_chance_fraction"), "above_chance_fraction")),
             "yes" if ds[k].get("stable") else "no"] for k in sizes]
    return Table("tbl-dictionary-size", ["dictionary", "seed pairs", "matched", "shared",
                                         "counterpart above chance", "seed-stable"], rows,
                 caption="Seed stability of the base model's SAEs at two dictionary sizes",
                 notes=[f"Seed-stable: every seed pair matches at least {fpct(ds.get('stable_fraction'), 0)} of its "
                        "latents (compare.stable_fraction); below it a single latent is not a reproducible unit."],
                 source=source(COMPARE, CompareFiles.SUMMARY))


def class_figure(ctx: ReportContext) -> list:
    s = _summary(ctx)
    comps = s.get("comparisons") or {}
    prim = dig(comps, s.get("primary"), "stats", default={})
    if not prim:
        return []
    from featevo.report.figures import class_counts

    labels = [lab for lab, _ in CLASS_ROWS]
    groups = [(f"{s.get('primary')} (primary)", [get(prim) for _, get in CLASS_ROWS], None, None)]
    for f in ("seed", "control"):
        per = [[get(c.get("stats") or {}) for _, get in CLASS_ROWS] for c in comps.values() if c.get("family") == f]
        if per:
            cols = list(zip(*per))
            groups.append((FAMILY_HEADS[f], [sum(v) / len(v) for v in cols], [min(v) for v in cols],
                           [max(v) for v in cols]))
    p = ctx.fig_dir / ReportFiles.CLASS_COUNTS
    class_counts(labels, groups, p, ylabel="latents")
    return ctx.figure_block(p, "Latents per class in the primary base-vs-tuned comparison (orange) against the mean "
                               "over the seed pairs and the control comparisons (bars; whiskers: range).",
                            "Latent class counts", "fig-class-counts", 860)


def figures(ctx: ReportContext) -> list:
    blocks = class_figure(ctx)
    for name, copy_name, caption in STAGE_FIGURES:
        p = ctx.copy_figure(ctx.up.dirs[COMPARE] / name, copy_name)
        stem = Path(name).stem
        blocks += ctx.figure_block(p, caption, stem.replace("_", " "), "fig-" + stem.replace("_", "-"))
    return blocks


def transfer_table(ctx: ReportContext) -> Optional[Table]:
    tr = _summary(ctx).get("transfer", {}) or {}
    rows = []
    for v in tr.values():
        if not isinstance(v, dict):
            continue
        rows.append([f"{v.get('sae', MISSING)} SAE on {v.get('activations', MISSING)} activations",
                     num(fnum(v.get("fvu"))), num(fnum(v.get("fvu_own_sae"))),
                     num(fsigned(v.get("fvu_increase"))), num(fpct(v.get("loss_recovered"))),
                     num(fpct(v.get("loss_recovered_own_sae"))),
                     num(fpct(v.get("loss_recovered_drop"), 1, True))])
    if not rows:
        return None
    notes = ["Own SAE: the SAE trained on those activations (stage 01). A transfer close to the own SAE "
             "means the dictionary still describes the other model."]
    if any(MISSING in r[4].text or MISSING in r[5].text for r in rows):
        notes.append(f"{MISSING}: loss recovered undefined (zero-ablation does not raise the loss).")
    return Table("tbl-transfer", ["SAE on activations", "FVU", "FVU of own SAE", "FVU increase", "loss recovered",
                                  "own SAE", "drop"], rows,
                 caption="Transfer: each SAE on the other model's held-out activations", notes=notes,
                 source=source(COMPARE, CompareFiles.SUMMARY))


def index_identity(ctx: ReportContext) -> tuple[int, int]:
    """(live base latents with a decoder partner, how many of them have the partner of the same index)."""
    base_rows = [r for r in ctx.up.compare.latents if r["sae"] == "base" and r["match_decoder"] is not None]
    return len(base_rows), sum(1 for r in base_rows if r["match_decoder"] == r["latent"])


def seed_clause(seeds: dict) -> str:
    """What the SAEs' recorded seeds say about equal indices (from stage 02's ``sae_seeds``)."""
    b, t = seeds.get("base"), seeds.get("tuned")
    if not (finite(b) and finite(t)):
        return "(The SAEs' seeds are not recorded.)"
    if b == t:
        return (f"(The base and tuned SAEs share seed {fint(b)}: same initial decoder and batch order, which makes "
                "equal indices likelier than for independently initialised SAEs.)")
    return (f"(The base and tuned SAEs use seeds {fint(b)} and {fint(t)}, so an equal index is a coincidence of "
            "their independent initialisations.)")


def index_identity_note(ctx: ReportContext, n: int, same: int) -> Para:
    return Para(
        f"How wrong is *feature i vs feature i*? Of the {fint(n)} live base latents with a decoder partner, "
        f"{fint(same)} ({fpct(same / n)}) are matched to the tuned latent with the same index. "
        f"{seed_clause(_summary(ctx).get('sae_seeds') or {})} The study assumed 100%.", "note")


def matching_findings(ctx: ReportContext) -> None:
    claims = _summary(ctx).get("claims") or []
    main = by_id(claims, "matched_fraction:fine-tuning_vs_seed")
    find_claim(ctx, "matching", main)
    if main and not main.get("parts"):  # a stage 02 written before the matched fraction carried new and lost
        find_claim(ctx, "new_lost", by_id(claims, "new:fine-tuning_vs_seed"))
        find_claim(ctx, "lost", by_id(claims, "lost:fine-tuning_vs_seed"))
    find_claim(ctx, "matching_control", by_id(claims, "matched_fraction:fine-tuning_vs_control"))
    # what the control twin changes (a comparison, beside the tuned twin's change)
    find_claim(ctx, "matching_control_twin", by_id(claims, "matched_fraction:control_vs_seed"))
    find_claim(ctx, "dictionary_size", by_id(claims, "seed_stability:main"))
    find_claim(ctx, "dictionary_size_wide", by_id(claims, "seed_stability:wide"))
    if not by_id(claims, "matched_fraction:fine-tuning_vs_seed"):
        bt = _summary(ctx).get("base_vs_tuned") or {}
        if bt:
            ctx.find("matching", (
                f"Of {fint(bt.get('pairs'))} Hungarian-matched decoder pairs, {fpct(bt.get('matched_fraction'))} are "
                f"shared or shifted between the base and tuned SAEs; with no seed pairs (sae.seeds = 1) this "
                f"cannot be told apart from SAE seed noise, so no change is claimed."),
                matched_fraction=bt.get("matched_fraction"), supported=False)


def other_findings(ctx: ReportContext, n: int, same: int) -> None:
    """Index identity and transfer."""
    if n:
        ctx.find("index_identity", (
            f"Comparing feature i with feature i, as the study did, would pair "
            f"{fpct((n - same) / n)} of the live base latents with a latent that is not "
            f"their best one-to-one decoder match."), same_index=same, live_with_partner=n)
    tr: Any = _summary(ctx).get("transfer", {}) or {}
    t_bt = tr.get("base_sae_on_tuned", {}) if isinstance(tr, dict) else {}
    if isinstance(t_bt, dict) and finite(t_bt.get("fvu")):
        ctx.find("transfer", (
            f"The base SAE reconstructs the tuned model's activations with FVU {fnum(t_bt.get('fvu'))}, against "
            f"{fnum(t_bt.get('fvu_own_sae'))} for the tuned model's own SAE ({fsigned(t_bt.get('fvu_increase'))})."),
            **{k: t_bt.get(k) for k in ("fvu", "fvu_own_sae", "fvu_increase")})


def matching_section(ctx: ReportContext) -> Section:
    sec = Section("matching", "Feature matching against the seed spread")
    sec.add(intro(ctx), family_table(ctx))
    claims = _summary(ctx).get("claims") or []
    if claims:
        sec.add(claims_table("tbl-matching-claims", "Claims of stage 02, each against its baseline", claims,
                             source(COMPARE, CompareFiles.SUMMARY)))
    sec.add(classes_table(ctx))
    for t in (continuum_table(ctx), size_table(ctx)):
        if t is not None:
            sec.add(t)
    sec.add(*figures(ctx))
    transfer = transfer_table(ctx)
    if transfer is not None:
        sec.add(transfer)
    n, same = index_identity(ctx)
    if n:
        sec.add(index_identity_note(ctx, n, same))
    matching_findings(ctx)
    other_findings(ctx, n, same)
    return sec
