"""Section 4, feature matching against the seed baseline: stage 02's matching summary, latent classes,
its figures, the transfer of each SAE to the other model, and how wrong *feature i vs feature i* is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from featevo.layout import COMPARE, CompareFiles, ReportFiles
from featevo.report.common import dig, num, plural, source
from featevo.report.context import ReportContext
from featevo.report.templates import MISSING, Para, Section, Table, finite, fint, fnum, fpct, fsigned

CLASS_ORDER = ["shared", "shifted", "split", "new", "lost", "dead"]
STAGE_FIGURES = (
    (CompareFiles.SIMILARITY_HIST, ReportFiles.SIMILARITY_HIST,
     "Decoder cosine and activation correlation of the Hungarian-matched pairs, base vs tuned against the seed "
     "baseline, with the class thresholds."),
    (CompareFiles.MATCHED_SCATTER, ReportFiles.MATCHED_SCATTER,
     "Every matched pair: decoder cosine against activation correlation; the thresholds split the plane into the "
     "classes."),
)


@dataclass
class Comparison:
    """Stage 02's summary of base vs tuned and of the first seed baseline (base vs base, another seed)."""

    bt: dict
    nb: dict
    null_name: Optional[str]

    @classmethod
    def of(cls, summary: dict) -> "Comparison":
        nulls = summary.get("null_baselines", {}) or {}
        null_name = next(iter(nulls), None)
        return cls(summary.get("base_vs_tuned", {}) or {}, nulls.get(null_name, {}) if null_name else {}, null_name)

    @property
    def cc_bt(self) -> dict:
        return self.bt.get("class_counts", {}) or {}

    @property
    def cc_nb(self) -> dict:
        return self.nb.get("class_counts", {}) or {}

    @property
    def second(self) -> Optional[str]:
        """The seed SAE's name in the baseline's class counts."""
        return (self.nb.get("saes") or [None, self.null_name])[1] if self.nb else None


def intro(ctx: ReportContext) -> Para:
    cmp_ = ctx.up.compare.summary
    th = cmp_.get("thresholds", {}) or {}
    sh = th.get("shared_threshold", ctx.cfg.compare.shared_threshold)
    nt = th.get("new_threshold", ctx.cfg.compare.new_threshold)
    sc = th.get("shifted_correlation", ctx.cfg.compare.shifted_correlation)
    return Para(
        f"Classes of a latent and its decoder partner (decoder cosine c, activation correlation r over the same "
        f"{fint(cmp_.get('token_rows'))} tokens): **shared** c >= {fnum(sh, 2)} and r >= {fnum(sc, 2)}; "
        f"**shifted** c >= {fnum(nt, 2)} but not shared; **new** (tuned) / **lost** (base): no latent of the "
        f"other SAE reaches c = {fnum(nt, 2)}; **split**: its own partner is below {fnum(nt, 2)} but another "
        f"latent is above it; **dead**: never fired.")


def _live(s: dict, i: int) -> str:
    names = s.get("saes") or []
    lv = s.get("live_latents") or {}
    return fint(lv.get(names[i])) if len(names) > i else MISSING


MATCHING_METRICS = (
    ("live latents (first / second SAE)", lambda s: f"{_live(s, 0)} / {_live(s, 1)}"),
    ("matched decoder pairs", lambda s: fint(s.get("pairs"))),
    ("shared pairs", lambda s: fpct(s.get("shared_fraction"))),
    ("shared or shifted pairs", lambda s: fpct(s.get("matched_fraction"))),
    ("mean decoder cosine of pairs", lambda s: fnum(dig(s, "pair_decoder_cosine", "mean"))),
    ("median decoder cosine of pairs", lambda s: fnum(dig(s, "pair_decoder_cosine", "median"))),
    ("mean activation correlation of pairs", lambda s: fnum(dig(s, "pair_activation_correlation", "mean"))),
    ("decoder and activation matching agree", lambda s: fpct(s.get("agreement"))),
    ("... among shared/shifted pairs", lambda s: fpct(s.get("agreement_matched_pairs"))),
)


def matching_table(c: Comparison) -> Table:
    seed_label = f"seed baseline (base vs {c.null_name})" if c.null_name else "seed baseline"
    rows = [[name, num(f(c.bt)), num(f(c.nb) if c.nb else MISSING)] for name, f in MATCHING_METRICS]
    notes = []
    if not c.nb:
        notes.append(f"{MISSING}: no seed-baseline SAE was trained (sae.seeds = 1).")
    return Table("tbl-matching", ["", "base vs tuned", seed_label], rows,
                 caption="Hungarian matching: base vs tuned against the seed baseline", notes=notes,
                 source=source(COMPARE, CompareFiles.SUMMARY))


def class_list(c: Comparison) -> list[str]:
    """The classes to show: the first five always (0 included), dead only when some latent is dead."""
    found = set(CLASS_ORDER[:5])
    for d in (c.cc_bt.get("tuned"), c.cc_bt.get("base"), c.cc_nb.get(c.second) if c.second else None,
              c.cc_nb.get("base")):
        found |= set((d or {}).keys())
    return [k for k in CLASS_ORDER if k in found] + sorted(found - set(CLASS_ORDER))


def classes_table(c: Comparison, classes: list[str]) -> Table:
    rows = []
    for k in classes:
        rows.append([k, num(fint(dig(c.cc_bt, "tuned", k, default=0))),
                     num(fint(dig(c.cc_nb, c.second, k, default=0)) if c.second else MISSING),
                     num(fint(dig(c.cc_bt, "base", k, default=0))),
                     num(fint(dig(c.cc_nb, "base", k, default=0)) if c.cc_nb else MISSING)])
    return Table("tbl-classes", ["class", "tuned SAE latents (vs base)", "seed SAE latents (vs base)",
                                 "base SAE latents (vs tuned)", "base SAE latents (vs seed SAE)"], rows,
                 caption="Latents per class", source=source(COMPARE, CompareFiles.SUMMARY),
                 notes=["The seed SAE's latents play the tuned SAE's role in the baseline: its unmatched "
                        "latents count as new, the base SAE's as lost."])


def figures(ctx: ReportContext, c: Comparison, classes: list[str]) -> list:
    """The class-count figure made here, then stage 02's own figures."""
    blocks = []
    if classes and c.cc_bt:
        from featevo.report.figures import class_counts

        p = ctx.fig_dir / ReportFiles.CLASS_COUNTS
        class_counts(classes, [dig(c.cc_bt, "tuned", k, default=0) for k in classes],
                     [dig(c.cc_nb, c.second, k, default=0) if c.second else None for k in classes], p,
                     ylabel="latents of the second SAE")
        blocks += ctx.figure_block(p, "Classes of the tuned SAE's latents (orange) against the seed SAE's "
                                      "latents in the seed baseline (grey).", "Latent class counts",
                                   "fig-class-counts", 760)
    for name, copy_name, caption in STAGE_FIGURES:
        p = ctx.copy_figure(ctx.up.dirs[COMPARE] / name, copy_name)
        stem = Path(name).stem
        blocks += ctx.figure_block(p, caption, stem.replace("_", " "), "fig-" + stem.replace("_", "-"))
    return blocks


def transfer_table(ctx: ReportContext) -> Optional[Table]:
    tr = ctx.up.compare.summary.get("transfer", {}) or {}
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


def index_identity_note(n: int, same: int, seeds: tuple = (None, None)) -> Para:
    b, t = seeds
    start = ("start from the same seed, which makes equal indices likelier than for independently initialised "
             "SAEs" if b is not None and b == t else
             f"were trained with different seeds ({fint(b)} and {fint(t)}), so equal indices are chance")
    return Para(
        f"How wrong is *feature i vs feature i*? Of the {fint(n)} live base latents with a "
        f"decoder partner, {fint(same)} ({fpct(same / n)}) are matched to the tuned latent with "
        f"the same index. (The base and tuned SAEs here {start}; the study assumed 100%.)", "note")


def matching_text(ctx: ReportContext, c: Comparison) -> str:
    """The matching finding when there is a seed baseline: base vs tuned against it."""
    bt, nb = c.bt, c.nb
    ps, pn = bt.get("shared_fraction"), nb.get("shared_fraction")
    ms, mn = bt.get("matched_fraction"), nb.get("matched_fraction")
    text = (f"Of {fint(bt.get('pairs'))} Hungarian-matched decoder pairs, {fpct(ps)} are shared and "
            f"{fpct(ms)} shared or shifted between the base and tuned SAEs, against {fpct(pn)} and {fpct(mn)} "
            f"between the base SAE and a base SAE of another seed (mean pair cosine "
            f"{fnum(dig(bt, 'pair_decoder_cosine', 'mean'))} vs {fnum(dig(nb, 'pair_decoder_cosine', 'mean'))})")
    if finite(ms) and finite(mn) and ms < mn:
        text += ": fine-tuning changed more features than SAE seed noise alone does."
    elif finite(ms) and finite(mn) and ms > mn:
        text += (": the base and tuned dictionaries agree more than two seeds of the same model, so the "
                 "matching shows no feature change beyond seed noise.")
    else:
        text += "."
    if finite(mn) and mn < 0.5:
        text += (f" Only {fpct(mn)} of the latents recur (shared or shifted) even between two seeds of the "
                 f"base SAE: most individual latents at this dictionary size are not stable across training "
                 f"runs, so latent-level comparisons carry that noise.")
    seeds = {n: dig(ctx.up.sae_summary, n, "seed") for n in ("base", "tuned", c.null_name)}
    if seeds["base"] is not None and seeds["base"] == seeds["tuned"] != seeds[c.null_name]:
        text += (f" Caveat: the base and tuned SAEs share seed {fint(seeds['base'])} (same initialisation and "
                 f"batch order) while the seed SAE uses {fint(seeds[c.null_name])}, which favours base-vs-tuned "
                 f"agreement.")
    return text


def matching_findings(ctx: ReportContext, c: Comparison) -> None:
    bt, nb = c.bt, c.nb
    if bt and nb:
        ctx.find("matching", matching_text(ctx, c), shared_fraction=bt.get("shared_fraction"),
                 shared_fraction_seed=nb.get("shared_fraction"), matched_fraction=bt.get("matched_fraction"),
                 matched_fraction_seed=nb.get("matched_fraction"))
        nn_t, nn_s = dig(c.cc_bt, "tuned", "new", default=0), dig(c.cc_nb, c.second, "new", default=0)
        nl_t, nl_s = dig(c.cc_bt, "base", "lost", default=0), dig(c.cc_nb, "base", "lost", default=0)
        ctx.find("new_lost", (
            f"{fint(nn_t)} tuned {plural(nn_t, 'latent')} {plural(nn_t, 'has', 'have')} no counterpart in the "
            f"base SAE (new) and {fint(nl_t)} base {plural(nl_t, 'latent')} no counterpart in the tuned SAE "
            f"(lost); the seed baseline has {fint(nn_s)} and {fint(nl_s)}."),
            new=nn_t, lost=nl_t, new_seed=nn_s, lost_seed=nl_s)
    elif bt:
        ctx.find("matching", (
            f"Of {fint(bt.get('pairs'))} Hungarian-matched decoder pairs, {fpct(bt.get('shared_fraction'))} are "
            f"shared between the base and tuned SAEs (mean pair cosine "
            f"{fnum(dig(bt, 'pair_decoder_cosine', 'mean'))}); no seed-baseline SAE was trained "
            f"(sae.seeds = 1), so these counts cannot be told apart from SAE seed noise."),
            shared_fraction=bt.get("shared_fraction"), shared_fraction_seed=None)


def other_findings(ctx: ReportContext, n: int, same: int) -> None:
    """Index identity and transfer."""
    if n:
        ctx.find("index_identity", (
            f"Comparing feature i with feature i, as the study did, would pair "
            f"{fpct((n - same) / n)} of the live base latents with a latent that is not "
            f"their best one-to-one decoder match."), same_index=same, live_with_partner=n)
    tr: Any = ctx.up.compare.summary.get("transfer", {}) or {}
    t_bt = tr.get("base_sae_on_tuned", {}) if isinstance(tr, dict) else {}
    if isinstance(t_bt, dict) and finite(t_bt.get("fvu")):
        ctx.find("transfer", (
            f"The base SAE reconstructs the tuned model's activations with FVU {fnum(t_bt.get('fvu'))}, against "
            f"{fnum(t_bt.get('fvu_own_sae'))} for the tuned model's own SAE ({fsigned(t_bt.get('fvu_increase'))})."),
            **{k: t_bt.get(k) for k in ("fvu", "fvu_own_sae", "fvu_increase")})


def matching_section(ctx: ReportContext) -> Section:
    sec = Section("matching", "Feature matching against the seed baseline")
    c = Comparison.of(ctx.up.compare.summary)
    classes = class_list(c)
    sec.add(intro(ctx), matching_table(c), classes_table(c, classes), *figures(ctx, c, classes))
    transfer = transfer_table(ctx)
    if transfer is not None:
        sec.add(transfer)
    n, same = index_identity(ctx)
    if n:
        seeds = tuple(dig(ctx.up.sae_summary, k, "seed") for k in ("base", "tuned"))
        sec.add(index_identity_note(n, same, seeds))
    matching_findings(ctx, c)
    other_findings(ctx, n, same)
    return sec
