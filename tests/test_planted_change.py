"""The planted control scored on change (featevo.planted_control.score_change, plant_strength), the fixed-dictionary
lens's calibration against the replica twin (replica_calibration), and the check that rejects a plant of a word the
target-domain text never contains: each on simulated data with a known answer (calibration under no effect, power
under a planted effect), including a planted word that is not the shipped one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featevo.data import Doc
from featevo.planted_control import plant_strength, score_change


def _tokens_of(docs, subs, minilm_dir):
    from featevo.models import ModelConfig, load_tokenizer
    from featevo.planted_control import planted_tokens

    tok = load_tokenizer(ModelConfig(name=str(minilm_dir)))
    return planted_tokens(tok, docs, subs, 32, True)


def test_a_verb_plant_is_found_at_its_positions_and_scored_on_change(minilm_dir):
    """Another word in another role: the verb "rose" planted as "glimmered" (not the shipped noun plant). A latent
    whose activation *changes* at the planted positions is the true one, whatever the activation level of others."""
    from featevo.planted_control import planted_sentences

    probe = [Doc(f"Shares of Acme rose {n} percent on Monday.", "markets", "target", f"t{n % 4}") for n in range(12)]
    probe += [Doc("The river rose after the storm.", "weather", "reference", "g0")]
    subs = {"rose": "glimmered"}
    docs = planted_sentences(probe, subs)
    assert len(docs) == 12 and all("glimmered" in d.text and "rose" not in d.text for d in docs)
    tokens, is_planted = _tokens_of(docs, subs, minilm_dir)
    n_pieces = len(tokens["input_ids"][0]) and int(is_planted.sum()) // 12
    assert is_planted.sum() == 12 * n_pieces and n_pieces >= 1
    rng = np.random.default_rng(0)
    L, rows = 40, len(is_planted)
    dz = rng.normal(0, 0.1, (rows, L))
    dz[is_planted, 7] += 1.0          # the planted change lives in latent 7
    dz[:, 3] += 5.0 * is_planted      # ... and latent 3 too, more strongly
    change = rng.uniform(0, 1, L)
    change[3], change[7] = 2.0, 1.5   # the lens ranks 3 first, 7 second
    r = score_change(dz, is_planted, change, "toy")
    assert r["best_latent"] in (3, 7) and r["rank"] <= 2 and r["auroc"] == pytest.approx(1.0)
    change[3] = -1.0                  # the lens misses latent 3: its rank is what the lens earned
    r = score_change(dz, is_planted, change, "toy")
    assert r["rank"] == int((change > change[r["best_latent"]]).sum()) + 1
    assert r["p_rank"] == pytest.approx(r["rank"] / L) and r["min_attainable_p_rank"] == pytest.approx(1 / L)


def test_rank_null_is_calibrated_and_the_plant_has_power():
    """No plant: the true latent (best AUROC of a pure-noise change) is where a lens's unrelated ranking puts it, so
    rank <= 3 happens about 3/L of the time. A lens that tracks the change finds the plant at rank 1."""
    rng = np.random.default_rng(1)
    L, rows, sims = 30, 200, 400
    is_planted = np.zeros(rows, dtype=bool)
    is_planted[:20] = True
    hits_null = hits_plant = 0
    for _ in range(sims):
        dz = rng.normal(0, 1, (rows, L))
        hits_null += score_change(dz, is_planted, rng.uniform(0, 1, L), "random")["rank"] <= 3
        j = rng.integers(L)
        dz[is_planted, j] += 1.5
        tracked = np.abs(dz[is_planted].mean(0) - dz[~is_planted].mean(0))  # a lens that measures change
        hits_plant += score_change(dz, is_planted, tracked, "tracked")["rank"] == 1
    rate = hits_null / sims
    assert abs(rate - 3 / L) < 4 * np.sqrt((3 / L) * (1 - 3 / L) / sims)
    assert hits_plant / sims > 0.95


def test_the_replica_null_gives_the_same_rule_its_own_best_latent():
    rng = np.random.default_rng(2)
    is_planted = np.arange(100) < 10
    dz = rng.normal(0, 0.1, (100, 12))
    dz[is_planted, 5] += 1.0
    r = score_change(dz, is_planted, np.arange(12, 0, -1.0), "toy", dz_null=rng.normal(0, 0.1, (100, 12)))
    assert r["best_latent"] == 5 and r["rank"] == 6
    assert r["null"]["auroc"] < r["auroc"] and 0 <= r["null"]["best_latent"] < 12


def _acts(rng, rows, shift_planted: float, is_planted):
    tuned = torch.tensor(rng.normal(0, 1, (rows, 16)))
    noise = lambda s: torch.tensor(rng.normal(0, s, (rows, 16)))  # noqa: E731
    planted = tuned + noise(0.1)
    planted[torch.tensor(is_planted)] += shift_planted
    return {"tuned": tuned, "planted": planted, "replica": tuned + noise(0.1)}


def test_plant_strength_against_twin_seed_noise():
    rng = np.random.default_rng(3)
    sent = np.repeat(np.arange(40), 5)
    is_planted = np.tile(np.arange(5) == 2, 40)
    clusters = np.arange(40) % 10
    real = plant_strength(_acts(rng, 200, 0.5, is_planted), is_planted, sent, clusters, 500, 0)
    assert real["excess_over_replica"]["real"] and real["planted_positions"] > real["elsewhere"]
    assert real["excess_over_replica"]["templates"] == 10 and real["excess_over_replica"]["sentences"] == 40
    fails = sum(plant_strength(_acts(np.random.default_rng(s), 200, 0.0, is_planted), is_planted, sent, clusters,
                               300, s)["excess_over_replica"]["real"] for s in range(40))
    assert fails <= 6  # a 95% interval excludes 0 about 1 time in 40 (one-sided: about 1 in 40 as well)
    no_replica = plant_strength({k: v for k, v in _acts(rng, 200, 0.5, is_planted).items() if k != "replica"},
                                is_planted, sent, clusters, 100, 0)
    assert no_replica["replica"] is None and "excess_over_replica" not in no_replica


def test_plant_strength_is_position_specific_when_the_replica_is_not_paired():
    """The planted twin shares the tuned twin's seed, the replica does not: the replica's change is larger
    everywhere, the plant's only at its positions. The level comparison would call the plant noise; the difference
    in differences finds it, and a replica equally large at the planted positions (no localisation) is no plant."""
    rng = np.random.default_rng(5)
    sent = np.repeat(np.arange(40), 5)
    is_planted = np.tile(np.arange(5) == 2, 40)
    clusters = np.arange(40) % 10
    tuned = torch.tensor(rng.normal(0, 1, (200, 16)))
    planted = tuned + torch.tensor(rng.normal(0, 0.05, (200, 16)))
    planted[torch.tensor(is_planted)] += torch.tensor(rng.normal(0, 0.15, (int(is_planted.sum()), 16)))
    replica = tuned + torch.tensor(rng.normal(0, 0.3, (200, 16)))
    got = plant_strength({"tuned": tuned, "planted": planted, "replica": replica}, is_planted, sent, clusters, 500, 0)
    assert got["planted_positions"] < got["replica"]["planted_positions"]  # below the unpaired replica's level
    assert got["excess_over_replica"]["real"] and got["localisation"]["real"]
    flat = tuned + torch.tensor(rng.normal(0, 0.05, (200, 16)))  # changed as much everywhere: no plant
    none = plant_strength({"tuned": tuned, "planted": flat, "replica": replica}, is_planted, sent, clusters, 500, 0)
    assert not none["excess_over_replica"]["real"] and not none["localisation"]["real"]


class _Res:
    def __init__(self, z, discovered):
        self.z, self.discovered = z, discovered


def test_replica_calibration_null_and_power():
    from featevo.diffing_lenses.fixed_dictionary import replica_calibration

    rng = np.random.default_rng(4)
    L, sims, rejected = 150, 200, 0
    for _ in range(sims):  # no domain-specific change: main and replica |z| from one distribution (twin noise)
        scale = rng.uniform(1, 3)  # twin noise larger than template noise: every |z| inflated alike
        z_main, z_rep = rng.normal(0, scale, L), rng.normal(0, scale, L)
        cal = replica_calibration(_Res(z_main, np.abs(z_main) > 2), z_rep, 0.05)
        rejected += cal["simes_p"] <= 0.05
    assert rejected / sims <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / sims)
    fdp = []
    for _ in range(100):  # thirty latents changed far beyond twin noise: all found, false discovery rate <= alpha
        z_rep, z_main = rng.normal(0, 2, L), rng.normal(0, 2, L)
        z_main[:30] += 15.0
        cal = replica_calibration(_Res(z_main, np.ones(L, dtype=bool)), z_rep, 0.05)
        assert cal["simes_p"] <= 0.05 and cal["survives"][:30].all()
        fdp.append(cal["survives"][30:].sum() / cal["survives"].sum())
    assert np.mean(fdp) <= 0.05 + 0.02
    assert cal["min_attainable_p"] == pytest.approx(1 / (L + 1)) and cal["null_size"] == L
    # survival needs the template-level discovery too
    cal = replica_calibration(_Res(z_main, np.zeros(L, dtype=bool)), z_rep, 0.05)
    assert not cal["survives"].any()


def test_a_plant_of_a_word_absent_from_the_target_text_is_rejected_before_training(tmp_path, tiny_model_dir,
                                                                                      tiny_data):
    from conftest import tiny_config_dict
    from featevo.config import config_from_dict
    from featevo.errors import ConfigError
    from featevo.train import check_twin

    d = tiny_config_dict(tmp_path / "outputs", tiny_model_dir, tiny_data)
    d["twin"]["planted"] = {"stocks": "lanterns", "zebra": "lanterns"}
    with pytest.raises(ConfigError, match=r"twin\.planted: 'zebra' occurs in no"):
        check_twin(config_from_dict(d))
    assert not (tmp_path / "outputs").exists()  # nothing written
    d["twin"]["planted"] = {"rose": "glimmered"}  # another word, another role: it occurs, so it is accepted
    check_twin(config_from_dict(d))


def test_local_change_finds_a_change_at_few_positions_that_sentence_means_dilute():
    """A change of one latent at 0.3% of the tokens (a plant) ranks first by the localised statistic and is scored
    as recovered by the change rule; under no change the true latent's rank is uniform (P(rank <= 3) = 3 / L)."""
    from featevo.diffing_lenses.fixed_dictionary import local_change

    rng = np.random.default_rng(11)
    rows, L, sims = 4000, 40, 200
    is_planted = np.zeros(rows, bool)
    is_planted[rng.choice(rows, 12, replace=False)] = True
    hits_plant = hits_null = 0
    for _ in range(sims):
        za = np.abs(rng.normal(0, 1, (rows, L)))
        zb = za + rng.normal(0, 0.1, (rows, L)) * rng.uniform(0.5, 2.0, L)  # twin noise of latent-dependent size
        j = rng.integers(L)
        null_rank = score_change(zb - za, is_planted, local_change(zb, za, 0.999), "local")["rank"]
        hits_null += null_rank <= 3
        zb[is_planted, j] += 1.5
        got = score_change(zb - za, is_planted, local_change(zb, za, 0.999), "local")
        hits_plant += got["best_latent"] == j and got["rank"] <= 3
    assert hits_plant / sims > 0.95
    assert abs(hits_null / sims - 3 / L) < 4 * np.sqrt((3 / L) * (1 - 3 / L) / sims)
    zb[:, :] = za
    assert np.allclose(local_change(zb, za, 0.999), 0.0)
