"""Section 1, Setup: models and hookpoint, data, SAE configuration, seeds, and the methods note."""

from __future__ import annotations

from featevo.layout import MANIFEST, TRAIN, TrainFiles
from featevo.report.common import SAE_ORDER, code, dig, kv_table, num, source
from featevo.report.context import ReportContext
from featevo.report.templates import MISSING, Para, Section, Table, fint

METHODS_NOTE = (
    "**Methods note.** The study this pipeline corrects compared *feature i vs feature i* of two "
    "independently trained SAEs. SAE latent indices are arbitrary: two SAEs trained on the same activations "
    "learn similar features in an unrelated order, so index i of one says nothing about index i of the "
    "other. Here latents are matched one-to-one with the Hungarian algorithm, once on decoder cosine "
    "similarity and once on activation correlation over the same tokens. Seeds are a random effect: every model "
    "has several SAEs, and every statistic is computed for every base-vs-tuned pair of SAEs and for every pair of "
    "same-model seeds (what SAE training noise alone produces with no fine-tuning at all); a change is claimed "
    "only beyond that seed spread. A control twin, fine-tuned with the same recipe on {reference} text, separates "
    "what is specific to {target} text from what any fine-tuning does. On the probe set, the estimand is the "
    "domain-specific change ({target} minus {reference}), resampled by template, and the top pairs are selected on "
    "half of the templates and estimated on the other half."
)


def models_table(ctx: ReportContext) -> Table:
    rows = []
    for key in SAE_ORDER:
        info = ctx.up.models.get(key, {})
        rows.append([key, code(info.get("configured_as") or info.get("name")), code(info.get("name")),
                     code(info.get("hookpoint")), num(fint(info.get("layer"))), num(fint(info.get("d_in"))),
                     info.get("fidelity_head") or MISSING])
    return Table("tbl-models", ["model", "configured as", "loaded from", "hookpoint", "layer", "d_in",
                                "fidelity head"], rows, caption="Models and hookpoint",
                 source=source(TRAIN, TrainFiles.MODELS),
                 notes=["`layer` L hooks module `encoder.layer.L` (0-based block); its output is "
                        "`hidden_states[L + 1]` of `output_hidden_states=True`."])


def setup_table(ctx: ReportContext) -> Table:
    up = ctx.up
    man1 = up.manifests.get(TRAIN, {})
    full = man1.get("full_config", {})
    data = full.get("data", {}) or {}
    sae = full.get("sae", {}) or {}
    harvest = full.get("harvest", {}) or {}
    ds = up.deltas.summary
    seeds = ", ".join(f"{n} {fint(v.get('seed'))}" for n, v in up.sae_summary.items() if isinstance(v, dict))
    items = [
        ("corpus", code(data.get("corpus"))),
        ("documents (train / eval split)", num(f"{fint(up.counts.get('train_docs'))} / "
                                               f"{fint(up.counts.get('eval_docs'))}")),
        ("SAE token rows (train / eval)", num(f"{fint(up.counts.get('train_tokens'))} / "
                                              f"{fint(up.counts.get('eval_tokens'))}")),
        ("probe set (stage 03)", code(data.get("probe"))),
        ("max tokens per document", num(fint(harvest.get("max_length")))),
        ("special tokens in SAE data", "excluded" if harvest.get("exclude_special_tokens") else "included"),
        ("SAE", f"TopK, {fint(ctx.sae_cfg('num_latents'))} latents, k = {fint(ctx.sae_cfg('k'))}"),
        ("SAE training tokens / batch / lr", num(f"{fint(sae.get('training_tokens'))} / "
                                                 f"{fint(sae.get('batch_size'))} / {sae.get('lr', MISSING)}")),
        ("SAEs per model (seeds)", num(fint(sae.get("seeds")))),
        ("wide SAEs (latents)", num(f"{fint(sae.get('wide_seeds'))} ({fint(sae.get('wide_num_latents'))})"
                                    if sae.get("wide_num_latents") else "none")),
        (f"probe templates ({ctx.domains[0]} / {ctx.domains[1]})", num(
            f"{fint(dig(ds, 'probe', 'templates'))} ({fint(dig(ds, 'probe', 'templates_target'))} / "
            f"{fint(dig(ds, 'probe', 'templates_reference'))})")),
        (f"probe sentences ({ctx.domains[0]} / {ctx.domains[1]})", num(
            f"{fint(dig(ds, 'probe', 'sentences'))} ({fint(dig(ds, 'probe', 'target'))} / "
            f"{fint(dig(ds, 'probe', 'reference'))})")),
        ("bootstrap resamples / permutations", num(f"{fint(ds.get('n_bootstrap'))} / "
                                                   f"{fint(ds.get('n_permutations'))}")),
        ("labelling LLM (stage 04)", ctx.llm_desc()),
        ("seeds", f"pipeline {fint(full.get('seed'))}; SAEs: {seeds or MISSING}"),
        ("device (stage 01)", code(man1.get("device"))),
        ("git commit", code(man1.get("git_commit"))),
    ]
    splits = "|".join(TrainFiles.SPLITS)
    return kv_table("tbl-setup", "Data, SAE configuration and seeds", items,
                    source=f"{source(TRAIN, MANIFEST)}, {source(TRAIN, splits)}/")


def setup_section(ctx: ReportContext) -> Section:
    sec = Section("setup", "Setup")
    sec.add(models_table(ctx), setup_table(ctx))
    versions = ctx.up.manifests.get(TRAIN, {}).get("versions", {}) or {}
    if versions:
        sec.add(Para("Versions (stage 01 manifest): " + ", ".join(f"`{k} {v}`" for k, v in versions.items())
                     + ".", "note"))
    sec.add(Para(METHODS_NOTE.format(target=ctx.domains[0], reference=ctx.domains[1])))
    return sec
