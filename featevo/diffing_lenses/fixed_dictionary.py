"""The fixed-dictionary lens of ``02_model_diffing``: one SAE (a dictionary) encodes every model's activations of
the probe sentences, so latent j is the same direction for every model and a change is measured on identical
tokens rather than guessed by matching two SAEs.

Per dictionary (``diffing.fixed_dictionary.dictionaries``; default every main-size base SAE and the tuned SAE)
and contrast b~a, the per-latent domain-specific change of model b beyond model a (:mod:`featevo.fixed_dictionary`:
difference in differences over the probe's target- and reference-domain sentences, template-bootstrap interval,
template-permutation p, BH discoveries, the dictionary's global test). Contrasts:

* ``control~tuned`` (the **main** one): the tuned twin's change of domain preference beyond the control twin's
  (same recipe on reference-domain text), (tuned - control) x (target - reference);
* ``base~tuned`` and ``base~control``: each twin's domain-specific change against the base model (the
  comparison's two parts);
* ``replica~tuned`` (the **twin-noise null**, with ``twin.replica``): the tuned twin against its replica (same
  recipe and text, another seed). Each main-contrast latent's |z| is calibrated against the |z| of every latent of
  this contrast in every dictionary (:func:`featevo.inference.calibrated_pvalues`), so a latent *survives the
  replica* when its change exceeds what retraining the same twin gives (BH at ``diffing.alpha`` on the calibrated p);
* ``tuned~planted`` (**positive control**): the planted twin against the tuned twin, on the probe with the plant
  applied to its target-domain sentences (identical tokens for both); the lens must find it;
* ``sham`` (**negative control**, a true null): the main contrast with sham domain labels, a seeded half of the
  templates within each domain (:func:`featevo.inference.template_halves`): no domain-specific change exists
  between the halves, so the lens must find nothing; it counts as passed only if the positive control passes.

Claims (lens ``fixed_dictionary``), each an intersection-union test over dictionaries (supported only when every
dictionary's p <= alpha, so its p is the largest): the main contrast beyond the replica (Simes' p of the calibrated
per-latent p, i.e. the smallest BH q; smallest attainable 1 / (latents + 1)); the main contrast beyond template
sampling (the global test); the planted contrast (positive control); the sham (negative control); and the replica
contrast's own global test (a check: is twin-training noise detectable beyond template sampling?).
"""

from __future__ import annotations

import logging

import numpy as np

from featevo.claims import pvalue_claim
from featevo.fixed_dictionary import interaction, robust_latents
from featevo.data import TARGET
from featevo.layout import DiffingFiles
from featevo.tables import Col, Schema, Table

logger = logging.getLogger(__name__)

LENS = "fixed_dictionary"
MAIN, PLANTED, REPLICA, SHAM = "control~tuned", "tuned~planted", "replica~tuned", "sham"
CONTRASTS = (("control", "tuned"), ("base", "tuned"), ("base", "control"), ("replica", "tuned"))
"""(model a, model b) per contrast on the probe: model b's domain-specific change beyond model a's."""
LEVEL = 0.95
"""Level of the template-bootstrap intervals."""
LATENTS = Schema(DiffingFiles.FIXED_DICTIONARY_LATENTS, (
    Col("dictionary", "str", "the SAE (stage 01) encoding every model's activations"),
    Col("contrast", "str", "<model a>~<model b>: model b's change beyond model a's"),
    Col("latent", "int", "latent of the dictionary"),
    Col("estimate", "float", "difference in differences of x_b - x_a (sentence-mean activation x decoder norm): "
                             "its mean over target-domain sentences minus its mean over reference-domain ones"),
    Col("ci_low", "float", "template-bootstrap percentile interval"), Col("ci_high", "float", "(upper end)"),
    Col("z", "float", "estimate / its template-bootstrap standard error"),
    Col("p", "float", "two-sided template-permutation p (the templates' domain labels permuted)"),
    Col("q", "float", "Benjamini-Hochberg of p within the dictionary and contrast"),
    Col("discovered", "bool", "q <= diffing.alpha"),
    Col("p_vs_replica", "float", "main contrast only: |z| against every latent's |z| of replica~tuned (twin noise)"),
    Col("q_vs_replica", "float", "Benjamini-Hochberg of p_vs_replica within the dictionary"),
    Col("survives_replica", "bool", "main contrast only: q_vs_replica <= diffing.alpha and discovered"),
    Col("local_change", "float", "the localised change beside the mean: the diffing.fixed_dictionary.local_quantile "
                                 "quantile over probe tokens of the per-token |activation change| (empty for sham)"),
), "fixed-dictionary lens: per dictionary, contrast and latent, the domain-specific change and its test")


def dictionaries(cfg) -> list[str]:
    """The SAEs used as dictionaries (configured, else every main-size base SAE and tuned replicate 0)."""
    from featevo.layout import main_saes

    return list(cfg.diffing.fixed_dictionary.dictionaries) or [*main_saes(cfg, "base"), main_saes(cfg, "tuned")[0]]


def probe_codes(run, names: list[str]) -> tuple[dict, dict, dict]:
    """Per dictionary and model, the probe sentences' mean activations [docs, latents]; the same for the tuned and
    planted twins on the probe with the plant applied to its target-domain sentences; and the probe's design."""
    import torch

    from featevo.activations import iter_layer_rows, tokenize_docs
    from featevo.data import cluster_ids, load_probe
    from featevo.layout import models, replica_models, sae_dir
    from featevo.models import load_model, load_tokenizer
    from featevo.planting import planted_docs
    from featevo.probe import doc_aggregates, scaled_encode
    from featevo.sae import load_sae

    cfg, h = run.cfg, run.cfg.harvest
    docs = load_probe(cfg.data)
    mdl = {**models(cfg), **replica_models(cfg)}
    tok = load_tokenizer(mdl["base"])
    texts = {"probe": tokenize_docs(tok, docs, h.max_length, h.exclude_special_tokens)}
    if "planted" in mdl:
        texts["planted"] = tokenize_docs(tok, planted_docs(docs, dict(cfg.twin.planted))[0], h.max_length,
                                         h.exclude_special_tokens)
    saes = {n: load_sae(sae_dir(run.s1, n), run.device) for n in names}
    X: dict = {n: {} for n in names}
    XP: dict = {n: {} for n in names}
    tokens_z: dict = {}  # (text, dictionary, model) -> per-token codes, for the localised statistic
    for key in [k for k in ("base", "tuned", "control", "planted", "replica") if k in mdl]:
        model = load_model(mdl[key], head="none", device=run.device, dtype=h.dtype)
        for text, tokens in texts.items():
            if text == "planted" and key not in ("tuned", "planted"):
                continue
            row_doc = tokens["keep_mask"].nonzero(as_tuple=False)[:, 0].numpy()
            acts = torch.cat(list(iter_layer_rows(model, tokens, h.layer, h.batch_size, run.device,
                                                  desc=f"fixed dictionary: {text} {key}")))
            for n, sae in saes.items():
                z = scaled_encode(sae, acts)
                tokens_z[(text, n, key)] = z
                (X if text == "probe" else XP)[n][key] = doc_aggregates(z, row_doc, len(docs))[0]
        del model
    design = {"is_target": np.array([d.domain == TARGET for d in docs]), "clusters": np.array(cluster_ids(docs)),
              "categories": np.array([d.domain for d in docs]), "docs": len(docs),
              "local": local_changes(tokens_z, names, cfg.diffing.fixed_dictionary.local_quantile)}
    return X, XP, design


def local_change(z_b: np.ndarray, z_a: np.ndarray, quantile: float) -> np.ndarray:
    """The localised change statistic of one contrast: per latent, the ``quantile`` over tokens of the per-token
    |activation change| |z_b - z_a| on identical tokens ([tokens, latents] each): large when a latent changes a lot
    at a few positions, however little its sentence means move."""
    return np.quantile(np.abs(np.asarray(z_b, np.float64) - np.asarray(z_a, np.float64)), quantile, axis=0)


def local_changes(tokens_z: dict, names: list[str], quantile: float) -> dict:
    """:func:`local_change` per (dictionary, contrast) for every contrast whose two models were encoded: the
    :data:`CONTRASTS` on the probe, :data:`PLANTED` on the probe with the plant applied."""
    out = {}
    for n in names:
        for text, pairs in (("probe", CONTRASTS), ("planted", (("tuned", "planted"),))):
            for a, b in pairs:
                if (text, n, a) in tokens_z and (text, n, b) in tokens_z:
                    name = PLANTED if text == "planted" else f"{a}~{b}"
                    out[(n, name)] = local_change(tokens_z[(text, n, b)], tokens_z[(text, n, a)], quantile)
    return out


def replica_calibration(main, null_z: np.ndarray, alpha: float) -> dict:
    """The main contrast's latents against twin-training noise: each |z| against the pooled |z| ``null_z`` of the
    replica contrast (every latent of every dictionary: two-sided empirical p,
    :func:`featevo.inference.calibrated_pvalues`), BH at ``alpha``; a latent survives when it is also a
    template-level discovery. Simes' p of the calibrated p (the smallest BH q) tests "some latent changed beyond
    twin noise"; its smallest attainable value is 1 / (null size + 1) (and BH needs about 1 / (alpha x that p)
    latents beyond every null value before any is discovered)."""
    from featevo.inference import bh_discoveries, calibrated_pvalues

    z = np.asarray(null_z, dtype=np.float64)
    p, n_null = calibrated_pvalues({"main": main.z, "replica": z[np.isfinite(z)]}, ["replica"])["main"]
    q, disc = bh_discoveries(p, alpha)
    survives = disc & main.discovered
    return {"p": p, "q": q, "survives": survives, "null_size": n_null,
            "simes_p": float(np.nanmin(q)) if len(q) else None, "min_attainable_p": 1.0 / (n_null + 1.0)}


class FixedDictionaryLens:
    """One SAE encodes every model's probe activations; per latent the tuned twin's domain-specific change beyond
    the control twin's. Config: ``diffing.fixed_dictionary``; table: ``fixed_dictionary_latents.csv``."""

    name = LENS
    agreement_name = "fixed dictionary"
    label = "fixed dictionary"
    description = ("one SAE encodes every model's activations of the same probe sentences (latent j is one "
                   "direction for every model); per latent, the tuned twin's change of its target- vs reference-domain "
                   "preference beyond the control twin's, with template-bootstrap intervals and template-permutation "
                   "tests, in each dictionary.")
    schema = LATENTS

    def check(self, cfg) -> None:
        from featevo.layout import sae_specs

        known = sae_specs(cfg)
        bad = [n for n in cfg.diffing.fixed_dictionary.dictionaries if n not in known]
        if bad:
            raise ValueError(f"diffing.fixed_dictionary.dictionaries: unknown SAE {bad[0]!r} "
                             f"(known: {', '.join(known)})")

    def fit(self, run) -> dict | None:
        from featevo.inference import Design, template_halves

        fc, alpha = run.cfg.diffing.fixed_dictionary, run.cfg.diffing.alpha
        if not fc.enabled:
            return None
        names = dictionaries(run.cfg)
        X, XP, d = probe_codes(run, names)
        design = Design.of(d["is_target"], d["clusters"], fc.n_bootstrap, run.cfg.seed + 6007)
        sham = Design.of(template_halves(d["clusters"], d["categories"], run.cfg.seed + 6013), d["clusters"],
                         fc.n_bootstrap, run.cfg.seed + 6007)
        res: dict = {}

        def test(n, name, Xb, Xa, dsg):
            res[(n, name)] = interaction(Xb, Xa, dsg, LEVEL, fc.n_permutations, run.cfg.seed + 6011, alpha)

        for n in names:
            for a, b in CONTRASTS:
                if a in X[n] and b in X[n]:
                    test(n, f"{a}~{b}", X[n][b], X[n][a], design)
            if "tuned" in XP[n] and "planted" in XP[n]:
                test(n, PLANTED, XP[n]["planted"], XP[n]["tuned"], design)
            if "control" in X[n]:
                test(n, SHAM, X[n]["tuned"], X[n]["control"], sham)
        null_z = [res[(n, REPLICA)].z for n in names if (n, REPLICA) in res]  # twin noise seen by every dictionary
        calib = {n: replica_calibration(res[(n, MAIN)], np.concatenate(null_z), alpha)
                 for n in names if (n, MAIN) in res and null_z}
        for (n, c), r in res.items():
            logger.info("fixed dictionary %s, %s: %d of %d latents discovered (BH q <= %g); global test p = %.4g",
                        n, c, int(r.discovered.sum()), len(r.p), alpha, r.glob["p"])
        for n, cal in calib.items():
            logger.info("fixed dictionary %s: %d latents survive the replica twin (Simes p = %.4g)", n,
                        int(cal["survives"].sum()), cal["simes_p"])
        return {"names": names, "res": res, "calib": calib, "templates": int(len(set(d["clusters"].tolist()))),
                "decoders": self._decoders(run, names), "local": d["local"], "local_quantile": fc.local_quantile}

    @staticmethod
    def _decoders(run, names: list[str]) -> dict:
        from featevo.layout import TrainFiles, sae_dir
        from featevo.lenses import decoder

        return {n: decoder(sae_dir(run.s1, n) / TrainFiles.SAE_WEIGHTS) for n in names}

    def table(self, state):
        if state is None:
            return None
        rows = []
        for (n, c), r in state["res"].items():
            cal = state["calib"].get(n) if c == MAIN else None
            loc = state.get("local", {}).get((n, c))
            for j in range(len(r.p)):
                rows.append({"dictionary": n, "contrast": c, "latent": j, "estimate": float(r.estimate[j]),
                             "ci_low": float(r.ci_low[j]), "ci_high": float(r.ci_high[j]), "z": float(r.z[j]),
                             "p": float(r.p[j]), "q": float(r.q[j]), "discovered": bool(r.discovered[j]),
                             "p_vs_replica": None if cal is None else float(cal["p"][j]),
                             "q_vs_replica": None if cal is None else float(cal["q"][j]),
                             "survives_replica": bool(cal is not None and cal["survives"][j]),
                             "local_change": None if loc is None else float(loc[j])})
        return Table(LATENTS, rows)

    def _robust(self, state, contrast: str, min_cosine: float) -> dict | None:
        names = [n for n in state["names"] if (n, contrast) in state["res"]]
        if not names:
            return None
        res = {n: state["res"][(n, contrast)] for n in names}
        return robust_latents({n: r.discovered for n, r in res.items()}, {n: r.estimate for n, r in res.items()},
                              state["decoders"], names[0], min_cosine)

    def summary(self, run, state) -> dict:
        if state is None:
            return {LENS: {"available": False, "reason": "diffing.fixed_dictionary.enabled is false"}}
        out: dict = {"available": True, "dictionaries": state["names"], "templates": state["templates"],
                     "contrasts": {}}
        for (n, c), r in state["res"].items():
            top = np.argsort(-np.abs(r.z), kind="stable")[:10]
            out["contrasts"].setdefault(c, {})[n] = {
                "latents": int(len(r.p)), "discovered": int(r.discovered.sum()),
                "toward_target": int((r.discovered & (r.estimate > 0)).sum()),
                "toward_reference": int((r.discovered & (r.estimate < 0)).sum()),
                "global": r.glob,
                "top_latents": [{"latent": int(j), "estimate": float(r.estimate[j]), "ci_low": float(r.ci_low[j]),
                                 "ci_high": float(r.ci_high[j]), "q": float(r.q[j])} for j in top]}
        mc = run.cfg.diffing.fixed_dictionary.min_cosine
        out["robust"] = {c: rb for c in (MAIN, PLANTED) if (rb := self._robust(state, c, mc)) is not None}
        out["beyond_replica"] = self._beyond_replica(state, mc)
        return {LENS: out}

    def _beyond_replica(self, state, min_cosine: float) -> dict:
        """Per dictionary, the main contrast's latents that survive the replica twin (with their estimates and
        intervals), Simes' p, and which survivors of the first dictionary hold across the others."""
        if not state["calib"]:
            return {"available": False, "reason": "no replica twin (twin.replica is false): twin-training noise "
                                                  "is in no null of this lens"}
        per = {}
        for n, cal in state["calib"].items():
            r = state["res"][(n, MAIN)]
            idx = np.flatnonzero(cal["survives"])
            idx = idx[np.argsort(-np.abs(r.z[idx]), kind="stable")]
            per[n] = {"survivors": int(len(idx)), "toward_target": int((r.estimate[idx] > 0).sum()),
                      "toward_reference": int((r.estimate[idx] < 0).sum()), "simes_p": cal["simes_p"],
                      "min_attainable_p": cal["min_attainable_p"], "null_size": cal["null_size"],
                      "latents": [{"latent": int(j), "estimate": float(r.estimate[j]), "ci_low": float(r.ci_low[j]),
                                   "ci_high": float(r.ci_high[j]), "z": float(r.z[j]),
                                   "q_vs_replica": float(cal["q"][j])} for j in idx]}
        names = list(state["calib"])
        held = robust_latents({n: state["calib"][n]["survives"] for n in names},
                              {n: state["res"][(n, MAIN)].estimate for n in names}, state["decoders"], names[0],
                              min_cosine)
        return {"available": True, "per_dictionary": per, "robust": held}

    def _part(self, state, part: str):
        if state is None:
            return None
        n = state["names"][0]
        r = state["res"].get((n, PLANTED if part == "planted" else MAIN))
        return None if r is None else (n, r)

    def change(self, state, part: str):
        """The declared ranking: the planted contrast by its localised change (a plant moves a few positions), the
        main contrast by |z| of its domain-specific change."""
        got = self._part(state, part)
        if got is None:
            return None
        return state["local"].get((got[0], PLANTED)) if part == "planted" else np.abs(got[1].z)

    def codes(self, run, state, acts: dict, part: str):
        from featevo.layout import sae_dir
        from featevo.sae import encode, load_sae

        n = self._part(state, part)[0]
        sae = load_sae(sae_dir(run.s1, n), run.device)
        return encode(sae, acts["planted" if part == "planted" else "tuned"]).numpy()

    def statistic(self, part: str) -> str:
        return ("localised change of the planted twin against the tuned twin: a high quantile "
                "(diffing.fixed_dictionary.local_quantile) over probe tokens of the per-token |activation change| "
                "(dictionary: the first)"
                if part == "planted" else
                "|z| of the tuned twin's domain-specific change beyond the control twin's (dictionary: the first)")

    def negative_control(self, run, state, summary: dict) -> dict | None:
        if state is None:
            return None
        per = {n: {"discovered": int(r.discovered.sum()), "global_p": r.glob["p"]}
               for (n, c), r in state["res"].items() if c == SHAM}
        return {"sham": per, "what": "the main contrast with sham domain labels (a seeded half of the templates of "
                                     "each domain): a true null; BH discoveries and the global test's p"}

    def flagged_base_latents(self, run, state) -> dict:
        got = self._part(state, "main")
        if got is None or got[0] not in _base_names(run.cfg):
            return {"latents": None, "what": "missing: no control~tuned contrast under a base SAE dictionary"}
        n, r = got
        return {"latents": [int(j) for j in np.flatnonzero(r.discovered)],
                "what": f"latents of base SAE {n} whose domain-specific change under the tuned twin exceeds the "
                        "control twin's (BH q <= alpha; that SAE as the fixed dictionary)"}

    def claims(self, summary: dict, alpha: float) -> list[dict]:
        fd = summary.get(LENS) or {}
        if not fd.get("available"):
            return []
        out = [c for c in (_replica_claim(fd, alpha),) if c]
        noise = "template sampling noise only (twin-training noise is the replica claim's null)"
        parts = ((MAIN, "claim", "the tuned twin changed latents' domain preference beyond the control twin's change",
                  noise),
                 (PLANTED, "positive_control", "the planted twin changed latents' domain preference beyond the tuned "
                                               "twin's (probe with the plant applied)", noise),
                 (SHAM, "negative_control", "the tuned twin changed latents' preference between two sham halves of "
                                            "the templates beyond the control twin's (a true null)", noise),
                 (REPLICA, "check", "the tuned twin and its replica differ in latents' domain preference (twin-"
                                    "training noise detectable beyond template sampling)", noise))
        for contrast, role, what, null_what in parts:
            per = (fd.get("contrasts") or {}).get(contrast)
            if per:
                out.append(_global_claim(contrast, role, what, null_what, per, alpha))
        pos = next((c for c in out if c["role"] == "positive_control"), None)
        for c in out:  # a negative control passed because the lens finds nothing anywhere is vacuous
            if c["role"] == "negative_control":
                c["vacuous"] = pos is None or not pos["supported"]
        return out

    def figures(self, run, state) -> None:
        return None


def _base_names(cfg) -> list[str]:
    from featevo.layout import main_saes

    return main_saes(cfg, "base")


def _global_claim(contrast: str, role: str, what: str, null_what: str, per: dict, alpha: float) -> dict:
    """A contrast's global template-permutation test, intersection-union over the dictionaries."""
    ps = {n: e["global"]["p"] for n, e in per.items()}
    c = pvalue_claim(f"{LENS}:{contrast}", f"{what}, in every dictionary, beyond template sampling noise",
                     f"not detectable with this design at this power: {what} in every dictionary",
                     p=max(ps.values()), alpha=alpha,
                     min_attainable_p=max(e["global"]["min_attainable_p"] for e in per.values()),
                     observed={"count": int(round(float(np.mean([e["discovered"] for e in per.values()])))),
                               "n": int(next(iter(per.values()))["latents"]),
                               "per_dictionary": {n: e["discovered"] for n, e in per.items()}},
                     null={"what": f"template permutations of the domain labels: {null_what}"},
                     name="global template-permutation test per dictionary; intersection-union over dictionaries "
                          "(p = the largest)", lens=LENS, role=role)
    c["contrast"], c["p_per_dictionary"] = contrast, ps
    return c


def _replica_claim(fd: dict, alpha: float) -> dict | None:
    """The headline: some latent's domain-specific change (tuned beyond control) exceeds twin-training noise (the
    replica), in every dictionary."""
    br = fd.get("beyond_replica") or {}
    if not br.get("available"):
        return None
    per = br["per_dictionary"]
    ps = {n: e["simes_p"] for n, e in per.items()}
    what = ("latents' domain preference changed under the tuned twin beyond the control twin's change and beyond "
            "twin-training noise (the replica)")
    held = (br.get("robust") or {}).get("held") or []
    c = pvalue_claim(f"{LENS}:beyond_replica", f"{what}, in every dictionary",
                     f"not detectable with this design at this power: {what} in every dictionary",
                     p=None if any(p is None for p in ps.values()) else max(ps.values()), alpha=alpha,
                     min_attainable_p=max(e["min_attainable_p"] for e in per.values()),
                     observed={"count": int(next(iter(per.values()))["survivors"]),
                               "n": int(fd["contrasts"][MAIN][next(iter(per))]["latents"]),
                               "per_dictionary": {n: e["survivors"] for n, e in per.items()},
                               "held_across_dictionaries": len(held)},
                     null={"what": "the |z| of every latent, in every dictionary, of the tuned twin against its "
                                   "replica (same recipe and text, another seed): twin-training noise, with template "
                                   "sampling in it"},
                     name="per latent, |z| against the replica contrast's |z| (empirical p), BH; Simes' p (the "
                          "smallest q) per dictionary; intersection-union over dictionaries (p = the largest)",
                     lens=LENS, role="claim")
    c["contrast"], c["p_per_dictionary"] = MAIN, ps
    return c
