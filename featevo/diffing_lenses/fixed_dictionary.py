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
* ``tuned~planted`` (**positive control**): the planted twin against the tuned twin; the plant changes
  target-domain sentences only, so the lens must find it.

Claims (lens ``fixed_dictionary``): the main contrast's global test in every dictionary (an intersection-union
test: supported only when each dictionary's p <= alpha, so its p is the largest of them), and the same for the
planted contrast as positive control. Twin-training noise is in no null here: with one twin per recipe, a replica
of the tuned twin is needed for that, and the claims say so.
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
MAIN, PLANTED = "control~tuned", "tuned~planted"
CONTRASTS = (("control", "tuned"), ("base", "tuned"), ("base", "control"), ("tuned", "planted"))
"""(model a, model b) per contrast: model b's domain-specific change beyond model a's."""
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
), "fixed-dictionary lens: per dictionary, contrast and latent, the domain-specific change and its test")


def dictionaries(cfg) -> list[str]:
    """The SAEs used as dictionaries (configured, else every main-size base SAE and tuned replicate 0)."""
    from featevo.layout import main_saes

    return list(cfg.diffing.fixed_dictionary.dictionaries) or [*main_saes(cfg, "base"), main_saes(cfg, "tuned")[0]]


def probe_codes(run, names: list[str]) -> tuple[dict, dict]:
    """Per dictionary and model, the probe sentences' mean activations [docs, latents]; and the probe's design."""
    from featevo.activations import iter_layer_rows, tokenize_docs
    from featevo.data import cluster_ids, load_probe
    from featevo.layout import models, sae_dir
    from featevo.models import load_model, load_tokenizer
    from featevo.probe import doc_aggregates, scaled_encode
    from featevo.sae import load_sae

    cfg, h = run.cfg, run.cfg.harvest
    docs = load_probe(cfg.data)
    mdl = models(cfg)
    tokens = tokenize_docs(load_tokenizer(mdl["base"]), docs, h.max_length, h.exclude_special_tokens)
    row_doc = tokens["keep_mask"].nonzero(as_tuple=False)[:, 0].numpy()
    saes = {n: load_sae(sae_dir(run.s1, n), run.device) for n in names}
    X: dict = {n: {} for n in names}
    for key in (k for k in ("base", "tuned", "control", "planted") if k in run.keys):
        import torch

        model = load_model(mdl[key], head="none", device=run.device, dtype=h.dtype)
        acts = torch.cat(list(iter_layer_rows(model, tokens, h.layer, h.batch_size, run.device,
                                              desc=f"fixed dictionary: probe {key}")))
        del model
        for n, sae in saes.items():
            X[n][key] = doc_aggregates(scaled_encode(sae, acts), row_doc, len(docs))[0]
    design = {"is_target": np.array([d.domain == TARGET for d in docs]), "clusters": np.array(cluster_ids(docs)),
              "docs": len(docs)}
    return X, design


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
        from featevo.inference import Design

        fc, alpha = run.cfg.diffing.fixed_dictionary, run.cfg.diffing.alpha
        if not fc.enabled:
            return None
        names = dictionaries(run.cfg)
        X, d = probe_codes(run, names)
        design = Design.of(d["is_target"], d["clusters"], fc.n_bootstrap, run.cfg.seed + 6007)
        res: dict = {}
        for n in names:
            for a, b in CONTRASTS:
                if a in X[n] and b in X[n]:
                    res[(n, f"{a}~{b}")] = interaction(X[n][b], X[n][a], design, LEVEL, fc.n_permutations,
                                                       run.cfg.seed + 6011, alpha)
        for (n, c), r in res.items():
            logger.info("fixed dictionary %s, %s: %d of %d latents discovered (BH q <= %g); global test p = %.4g",
                        n, c, int(r.discovered.sum()), len(r.p), alpha, r.glob["p"])
        return {"names": names, "res": res, "templates": int(len(set(d["clusters"].tolist()))),
                "decoders": self._decoders(run, names)}

    @staticmethod
    def _decoders(run, names: list[str]) -> dict:
        from featevo.layout import TrainFiles, sae_dir
        from featevo.lenses import decoder

        return {n: decoder(sae_dir(run.s1, n) / TrainFiles.SAE_WEIGHTS) for n in names}

    def table(self, state):
        if state is None:
            return None
        rows = [{"dictionary": n, "contrast": c, "latent": j, "estimate": float(r.estimate[j]),
                 "ci_low": float(r.ci_low[j]), "ci_high": float(r.ci_high[j]), "z": float(r.z[j]), "p": float(r.p[j]),
                 "q": float(r.q[j]), "discovered": bool(r.discovered[j])}
                for (n, c), r in state["res"].items() for j in range(len(r.p))]
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
        return {LENS: out}

    def _part(self, state, part: str):
        if state is None:
            return None
        n = state["names"][0]
        r = state["res"].get((n, PLANTED if part == "planted" else MAIN))
        return None if r is None else (n, r)

    def change(self, state, part: str):
        got = self._part(state, part)
        return None if got is None else np.abs(got[1].z)

    def codes(self, run, state, acts: dict, part: str):
        from featevo.layout import sae_dir
        from featevo.sae import encode, load_sae

        n = self._part(state, part)[0]
        sae = load_sae(sae_dir(run.s1, n), run.device)
        return encode(sae, acts["planted" if part == "planted" else "tuned"]).numpy()

    def statistic(self, part: str) -> str:
        return ("|z| of the planted twin's domain-specific change beyond the tuned twin's (dictionary: the first)"
                if part == "planted" else
                "|z| of the tuned twin's domain-specific change beyond the control twin's (dictionary: the first)")

    def negative_control(self, run, state, summary: dict) -> dict | None:
        return None  # a true null needs a replica of the tuned twin (same recipe, another seed)

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
        out = []
        parts = ((MAIN, "claim", "the tuned twin changed latents' domain preference beyond the control twin's change"),
                 (PLANTED, "positive_control",
                  "the planted twin changed latents' domain preference beyond the tuned twin's"))
        for contrast, role, what in parts:
            per = (fd.get("contrasts") or {}).get(contrast)
            if not per:
                continue
            ps = {n: e["global"]["p"] for n, e in per.items()}
            c = pvalue_claim(f"{LENS}:{contrast}", f"{what}, in every dictionary, beyond template sampling noise",
                           f"not detectable with this design: {what} in every dictionary",
                           p=max(ps.values()), alpha=alpha,
                           min_attainable_p=max(e["global"]["min_attainable_p"] for e in per.values()),
                           observed={"count": int(np.mean([e["discovered"] for e in per.values()]).round()),
                                     "n": int(next(iter(per.values()))["latents"]),
                                     "per_dictionary": {n: e["discovered"] for n, e in per.items()}},
                           null={"what": "template permutations of the domain labels (sampling noise); no replica "
                                         "twin, so twin-training noise is not in this null"},
                           name="global template-permutation test per dictionary; intersection-union over "
                                "dictionaries (p = the largest)", lens=LENS, role=role)
            c["contrast"], c["p_per_dictionary"] = contrast, ps
            out.append(c)
        return out

    def figures(self, run, state) -> None:
        return None


def _base_names(cfg) -> list[str]:
    from featevo.layout import main_saes

    return main_saes(cfg, "base")
