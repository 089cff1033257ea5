"""clipood.metrics against hand-worked examples, sklearn, brute-force threshold scans and invariants."""
import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from clipood.metrics import accuracy, fpr_at_tpr, ood_metrics

KEYS = ["auroc", "fpr95", "fpr95_mcm", "fpr95_openood", "aupr_in", "aupr_out"]


# ---------------------------------------------------------------- independent references
def brute_fpr(id_s, ood_s, level=0.95):
    "Smallest fraction of OOD with score >= t over all thresholds t that accept >= level of ID"
    id_s, ood_s = np.asarray(id_s, float), np.asarray(ood_s, float)
    best = 1.0
    for t in np.unique(np.r_[id_s, ood_s]):
        if np.mean(id_s >= t) >= level: best = min(best, np.mean(ood_s >= t))
    return best


def brute_fpr_openood(id_s, ood_s, level=0.95):
    "OOD positive: smallest fraction of ID rejected (score <= t) over thresholds rejecting >= level of OOD"
    id_s, ood_s = np.asarray(id_s, float), np.asarray(ood_s, float)
    best = 1.0
    for t in np.unique(np.r_[id_s, ood_s]):
        if np.mean(ood_s <= t) >= level: best = min(best, np.mean(id_s <= t))
    return best


def brute_fpr_closest(id_s, ood_s, level=0.95):
    """MCM's rule, scanned: operating points at each distinct score from high to low, stopping at the first
    that accepts all ID; keep those whose TPR is closest to `level`; report the largest FPR among them."""
    id_s, ood_s = np.asarray(id_s, float), np.asarray(ood_s, float)
    pts = []
    for t in np.unique(np.r_[id_s, ood_s])[::-1]:
        pts.append((np.mean(id_s >= t), np.mean(ood_s >= t)))
        if pts[-1][0] == 1: break
    d = min(abs(tpr - level) for tpr, _ in pts)
    return max(fpr for tpr, fpr in pts if abs(tpr - level) == d)


def brute_auroc(id_s, ood_s):
    "P(ID > OOD) + 0.5 P(ID == OOD) over all pairs"
    a, b = np.asarray(id_s, float)[:, None], np.asarray(ood_s, float)[None]
    return float(np.mean(a > b) + 0.5 * np.mean(a == b))


def random_sets(seed):
    "Continuous or heavily tied score sets of random sizes"
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 120, 2)
    if seed % 2: return rng.normal(1, 1, n), rng.normal(0, 1.5, m)
    return rng.integers(0, 6, n) / 2, rng.integers(-2, 4, m) / 2


# ---------------------------------------------------------------- hand-worked examples


def test_perfectly_separated():
    m = ood_metrics([0.5, 0.6, 0.9], [-1.0, 0.1, 0.49])
    assert m == dict(auroc=1.0, fpr95=0.0, fpr95_mcm=0.0, fpr95_openood=0.0, aupr_in=1.0, aupr_out=1.0)


def test_perfectly_reversed():
    m = ood_metrics([0, 1, 2], [3, 4])
    assert m["auroc"] == 0 and m["fpr95"] == 1 and m["fpr95_openood"] == 1


@pytest.mark.parametrize("n_id, n_ood", [(1, 1), (5, 20), (100, 7)])
def test_identical_sets(n_id, n_ood):
    m = ood_metrics(np.full(n_id, 0.3), np.full(n_ood, 0.3))
    assert m["auroc"] == 0.5 and m["fpr95"] == 1 and m["fpr95_openood"] == 1
    assert m["aupr_in"] == pytest.approx(n_id / (n_id + n_ood))
    assert m["aupr_out"] == pytest.approx(n_ood / (n_id + n_ood))


def test_same_distribution_is_chance():
    rng = np.random.default_rng(0)
    m = ood_metrics(rng.normal(size=20000), rng.normal(size=20000))
    assert m["auroc"] == pytest.approx(0.5, abs=0.01)
    assert m["fpr95"] == pytest.approx(0.95, abs=0.01) and m["fpr95_openood"] == pytest.approx(0.95, abs=0.01)


# ---------------------------------------------------------------- FPR95 threshold rules
def test_fpr_rules_hand_worked():
    # ID 1..20, OOD {0.5, 1.5, 10}. 95% of 20 = 19 ID: highest threshold t = 2 accepts OOD {10}: 1/3.
    # MCM's rule: TPR is exactly 0.95 for all t in (1, 2]; it takes the lowest (t = 1.5), adding OOD 1.5: 2/3.
    # OpenOOD: reject all 3 OOD (S <= 10) -> rejects ID 1..10: 1/2.
    ids, oods = np.arange(1, 21), [0.5, 1.5, 10]
    assert fpr_at_tpr(ids, oods) == pytest.approx(1/3)
    assert fpr_at_tpr(ids, oods, rule="closest") == pytest.approx(2/3)
    assert ood_metrics(ids, oods)["fpr95_openood"] == pytest.approx(1/2)
    # ID 1..10, OOD {1, 5, 0.5}. The first rule needs all 10 ID (t = 1): OOD {1, 5}: 2/3. TPR 0.9 is (in
    # floating point) closer to 0.95 than 1.0, so MCM's rule reports t = 2 (9 ID): OOD {5}: 1/3.
    ids, oods = np.arange(1, 11), [1, 5, 0.5]
    assert fpr_at_tpr(ids, oods) == pytest.approx(2/3)
    assert fpr_at_tpr(ids, oods, rule="closest") == pytest.approx(1/3)


@pytest.mark.parametrize("seed", range(40))
def test_fpr_against_brute_force(seed):
    ids, oods = random_sets(seed)
    m = ood_metrics(ids, oods)
    assert m["fpr95"] == pytest.approx(brute_fpr(ids, oods), abs=1e-12)
    assert m["fpr95_openood"] == pytest.approx(brute_fpr_openood(ids, oods), abs=1e-12)
    for level in (0.5, 0.8, 0.95, 1.0):
        assert fpr_at_tpr(ids, oods, level) == pytest.approx(brute_fpr(ids, oods, level), abs=1e-12)
        assert fpr_at_tpr(ids, oods, level, rule="closest") == pytest.approx(brute_fpr_closest(ids, oods, level), abs=1e-12)


# ---------------------------------------------------------------- sklearn and invariants on random data
@pytest.mark.parametrize("seed", range(20))
def test_against_sklearn_and_pairs(seed):
    ids, oods = random_sets(seed)
    m = ood_metrics(ids, oods)
    y, s = np.r_[np.ones(len(ids)), np.zeros(len(oods))], np.r_[ids, oods]
    assert m["auroc"] == pytest.approx(roc_auc_score(y, s))
    assert m["auroc"] == pytest.approx(brute_auroc(ids, oods))
    assert m["aupr_in"] == pytest.approx(average_precision_score(y, s))
    assert m["aupr_out"] == pytest.approx(average_precision_score(1 - y, -s))
    assert all(0 <= v <= 1 and isinstance(v, float) for v in m.values())


@pytest.mark.parametrize("seed", range(20))
def test_symmetries(seed):
    ids, oods = random_sets(seed)
    m, swapped, negswapped = ood_metrics(ids, oods), ood_metrics(oods, ids), ood_metrics(-oods, -ids)
    assert m["auroc"] == pytest.approx(1 - swapped["auroc"])
    assert m["auroc"] == pytest.approx(negswapped["auroc"])
    assert m["aupr_out"] == pytest.approx(negswapped["aupr_in"])
    assert m["aupr_in"] == pytest.approx(negswapped["aupr_out"])
    assert m["fpr95_openood"] == pytest.approx(negswapped["fpr95"])
    assert m["fpr95"] == pytest.approx(negswapped["fpr95_openood"])


def test_monotone_transform_invariance():
    rng = np.random.default_rng(3)
    ids, oods = rng.normal(1, 1, 200), rng.normal(0, 1, 150)
    m, t = ood_metrics(ids, oods), ood_metrics(np.exp(ids) * 3 + 1, np.exp(oods) * 3 + 1)
    for k in KEYS: assert m[k] == pytest.approx(t[k]), k


def test_input_types():
    rng = np.random.default_rng(4)
    ids, oods = rng.normal(1, 1, 50), rng.normal(0, 1, 40)
    ref = ood_metrics(ids, oods)
    assert ood_metrics(list(ids), tuple(oods)) == ref
    assert ood_metrics(torch.tensor(ids), torch.tensor(oods, requires_grad=True)) == ref
    f32 = ood_metrics(torch.tensor(ids, dtype=torch.float32), oods.astype(np.float32))
    for k in KEYS: assert f32[k] == pytest.approx(ref[k], abs=0.03)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("id_s, ood_s, match", [
    ([], [1.0], "id_scores is empty"),
    ([1.0], np.array([]), "ood_scores is empty"),
    ([[1.0, 2.0]], [1.0], r"id_scores must be 1-D .* got shape \(1, 2\)"),
    ([1.0], np.zeros((3, 1)), r"ood_scores must be 1-D .*\.ravel\(\)"),
    (np.float64(1.0), [1.0], r"id_scores must be 1-D .* got shape \(\)"),
    ([1.0, np.nan], [1.0], r"id_scores contains 1 NaN/inf value\(s\) \(first at index 1\)"),
    ([1.0], [np.inf, 2, -np.inf], r"ood_scores contains 2 NaN/inf value\(s\) \(first at index 0\)"),
    (["a", "b"], [1.0], "id_scores must be numeric"),
])
def test_bad_scores(id_s, ood_s, match):
    with pytest.raises(ValueError, match=match): ood_metrics(id_s, ood_s)


def test_bad_fpr_args():
    with pytest.raises(ValueError, match="rule must be 'first' or 'closest'"): fpr_at_tpr([1.0], [0.0], rule="nearest")
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\]"): fpr_at_tpr([1.0], [0.0], level=95)


# ---------------------------------------------------------------- accuracy
def test_accuracy_hand_worked():
    sims = np.array([[.3, .2, .1], [.1, .5, .2], [.2, .2, .1], [.0, .1, .4]])
    assert accuracy(sims, [0, 1, 1, 2]) == 0.75  # row 2 ties classes 0 and 1: predicts 0
    assert accuracy(sims, [0, 1, 0, 2]) == 1.0
    assert accuracy(torch.tensor(sims) * 100, torch.tensor([1, 1, 0, 0])) == 0.5
    assert accuracy([[1.0]], [0]) == 1.0


def test_accuracy_against_sklearn():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(300, 7)), rng.integers(0, 7, 300)
    assert accuracy(x, y) == pytest.approx(accuracy_score(y, x.argmax(1)))
    assert accuracy(torch.tensor(x, dtype=torch.float32), torch.tensor(y)) == pytest.approx(accuracy(x, y))


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((4, 3)), [0, 1, 2], "logits_or_sims has 4 rows but labels has 3 entries"),
    (np.zeros(3), [0], r"logits_or_sims must be 2-D .* got shape \(3,\)"),
    (np.zeros((2, 3)), [[0, 1]], "labels must be 1-D"),
    (np.zeros((2, 3)), [0, 3], r"labels must be integer class indices in \[0, 3\)"),
    (np.zeros((2, 3)), [0, -1], r"labels must be integer class indices"),
    (np.zeros((2, 3)), [0, 0.5], r"labels must be integer class indices"),
    (np.array([[0.0, np.nan]]), [0], "logits_or_sims contains 1 NaN/inf"),
    (np.zeros((0, 3)), [], "logits_or_sims is empty"),
])
def test_accuracy_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match): accuracy(x, y)
