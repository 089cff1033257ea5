"""clipood.scores against scipy references, closed forms and invariants."""
import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp, softmax
from scipy.stats import entropy as scipy_entropy

from clipood.scores import SCORES, compute, energy, entropy, mcm, ms, msp

NAMES = ["ms", "mcm", "msp", "energy", "entropy"]
TEMPERED = ["mcm", "energy", "entropy"]


def rand_sims(seed=0, n=50, c=10):
    return np.random.default_rng(seed).uniform(-1, 1, (n, c))


@pytest.fixture(autouse=True)
def cosine_inputs_do_not_warn():
    "Any warning (e.g. 'looks like logits') fails a test unless the test expects it"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------- against scipy / closed forms
@pytest.mark.parametrize("t", [1.0, 0.5, 0.1, 0.01])
def test_against_scipy(t):
    s = rand_sims(1)
    np.testing.assert_allclose(ms(s), s.max(1))
    np.testing.assert_allclose(mcm(s, temperature=t), softmax(s / t, axis=1).max(1), rtol=1e-12)
    np.testing.assert_allclose(energy(s, temperature=t), t * logsumexp(s / t, axis=1), rtol=1e-12)
    np.testing.assert_allclose(entropy(s, temperature=t), -scipy_entropy(softmax(s / t, axis=1), axis=1), atol=1e-12)
    np.testing.assert_allclose(msp(s, logit_scale=1 / t), softmax(s / t, axis=1).max(1), rtol=1e-12)


def test_hand_worked():
    # one row [0, ln 2, ln 2 ... ] would do, but use [ln 3, 0, 0]: exp = [3, 1, 1], softmax = [3/5, 1/5, 1/5]
    s = np.array([[np.log(3), 0.0, 0.0]])
    assert ms(s)[0] == pytest.approx(np.log(3))
    assert mcm(s)[0] == pytest.approx(3 / 5)
    assert energy(s)[0] == pytest.approx(np.log(5))
    assert entropy(s)[0] == pytest.approx(3/5 * np.log(3/5) + 2 * 1/5 * np.log(1/5))
    # temperature 1/2 doubles the logits: exp = [9, 1, 1] -> max prob 9/11, energy = ln(11)/2
    assert mcm(s, temperature=0.5)[0] == pytest.approx(9 / 11)
    assert energy(s, temperature=0.5)[0] == pytest.approx(np.log(11) / 2)


# ---------------------------------------------------------------- invariants
@pytest.mark.parametrize("seed", range(5))
def test_mcm_at_one_hundredth_is_msp(seed):
    s = rand_sims(seed)
    np.testing.assert_allclose(mcm(s, temperature=1 / 100), msp(s, logit_scale=100.0), rtol=1e-12)
    np.testing.assert_allclose(mcm(s, temperature=0.5), msp(s, logit_scale=2.0), rtol=1e-12)
    np.testing.assert_allclose(compute("mcm", s, temperature=0.01), compute("msp", s), rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_row_shift(seed):
    s = rand_sims(seed)
    c = np.random.default_rng(seed + 100).uniform(-2, 2, (len(s), 1))
    for name in ("mcm", "msp", "entropy"):
        np.testing.assert_allclose(compute(name, s + c), compute(name, s), rtol=1e-10, atol=1e-12, err_msg=name)
    for name in ("ms", "energy"):
        np.testing.assert_allclose(compute(name, s + c), compute(name, s) + c[:, 0], rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("c", [1, 2, 10, 1000])
def test_ranges(c):
    s = rand_sims(3, c=c)
    for t in (1.0, 0.01):
        v = mcm(s, temperature=t)
        assert (v >= 1 / c - 1e-15).all() and (v <= 1).all()
        v = entropy(s, temperature=t)
        assert (v >= -np.log(c) - 1e-12).all() and (v <= 1e-15).all()
        v = energy(s, temperature=t) - ms(s)
        assert (v >= 0).all() and (v <= t * np.log(c) + 1e-12).all()
    flat = np.full((2, c), 0.2)  # a uniform row attains the lower bounds
    np.testing.assert_allclose(mcm(flat), 1 / c)
    np.testing.assert_allclose(entropy(flat), -np.log(c), atol=1e-12)
    np.testing.assert_allclose(energy(flat, temperature=0.1), 0.2 + 0.1 * np.log(c))


def test_energy_tends_to_ms():
    s = rand_sims(4)
    gaps = [np.abs(energy(s, temperature=t) - ms(s)).max() for t in (1.0, 0.1, 0.01, 1e-3, 1e-6)]
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    assert gaps[-1] < 1e-5
    np.testing.assert_allclose(energy(s, temperature=1e-300), ms(s))


def test_mcm_tends_to_one_and_flat():
    s = rand_sims(5)
    np.testing.assert_allclose(mcm(s, temperature=1e-6), 1.0)  # distinct maxima: one-hot softmax
    np.testing.assert_allclose(mcm(s, temperature=1e6), 1 / s.shape[1], rtol=1e-5)
    np.testing.assert_allclose(entropy(s, temperature=1e-6), 0.0, atol=1e-12)


def test_more_confident_row_scores_higher():
    s = np.array([[0.35, 0.10, 0.10], [0.20, 0.19, 0.18]])
    for name in NAMES:
        if name == "energy": continue  # energy also rewards many moderately similar classes
        v = compute(name, s)
        assert v[0] > v[1], name


# ---------------------------------------------------------------- edge cases
def test_one_class():
    s = np.array([[0.3], [-0.7]])
    np.testing.assert_array_equal(ms(s), [0.3, -0.7])
    np.testing.assert_array_equal(mcm(s), 1.0)
    np.testing.assert_array_equal(msp(s), 1.0)
    np.testing.assert_allclose(energy(s, temperature=0.01), [0.3, -0.7])
    np.testing.assert_array_equal(entropy(s), 0.0)


def test_ties():
    s = np.array([[0.5, 0.5, 0.1], [0.2, 0.2, 0.2]])
    np.testing.assert_allclose(mcm(s, temperature=1e-4), [0.5, 1 / 3])  # two-way tie at the top
    np.testing.assert_allclose(entropy(s, temperature=1e-4), [-np.log(2), -np.log(3)], atol=1e-12)
    np.testing.assert_allclose(energy(s, temperature=1e-2), [0.5 + 0.01 * np.log(2), 0.2 + 0.01 * np.log(3)], atol=1e-12)
    np.testing.assert_array_equal(ms(s), [0.5, 0.2])


def test_huge_values_do_not_overflow():
    s = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, -1e4]])
    with pytest.warns(UserWarning, match="divide them by the logit scale"):
        out = {name: compute(name, s) for name in NAMES}
    for v in out.values(): assert np.isfinite(v).all()
    np.testing.assert_allclose(out["mcm"], [1.0, 0.5])
    np.testing.assert_allclose(out["energy"], [1e4, 1e4 + np.log(2)])
    np.testing.assert_allclose(out["entropy"], [0.0, -np.log(2)], atol=1e-12)


def test_tiny_temperature_no_nan():
    s = rand_sims(6)
    with np.errstate(invalid="raise", divide="raise"):  # no NaN or log(0) internally (underflow to 0 is fine)
        for name in TEMPERED:
            assert np.isfinite(compute(name, s, temperature=1e-300)).all(), name


def test_empty_batch():
    for name in NAMES: assert compute(name, np.zeros((0, 4))).shape == (0,)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_torch_matches_numpy(dtype):
    t = torch.tensor(rand_sims(7)).to(dtype).requires_grad_()
    a = t.detach().double().numpy()
    for name in NAMES:
        v = compute(name, t)
        assert isinstance(v, np.ndarray) and v.dtype == np.float64
        np.testing.assert_allclose(v, compute(name, a), rtol=1e-12, err_msg=name)
    assert np.array_equal(compute("mcm", a.tolist()), compute("mcm", a))  # nested lists too


# ---------------------------------------------------------------- errors
def test_unknown_name():
    with pytest.raises(KeyError, match="unknown OOD score 'maxlogit'; valid names: ms, mcm, msp, energy, entropy, glmcm"):
        compute("maxlogit", rand_sims())


def test_unknown_parameter():
    with pytest.raises(TypeError, match=r"score 'ms' has no parameter\(s\) \['temperature'\]; its parameters: none"):
        compute("ms", rand_sims(), temperature=1.0)
    with pytest.raises(TypeError, match=r"its parameters: \['logit_scale'\]"):
        compute("msp", rand_sims(), temperature=1.0)


@pytest.mark.parametrize("name", TEMPERED)
@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "warm", None])
def test_bad_temperature(name, bad):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        compute(name, rand_sims(), temperature=bad)


@pytest.mark.parametrize("bad", [0, -100.0, float("inf")])
def test_bad_logit_scale(bad):
    with pytest.raises(ValueError, match="logit_scale must be a finite number > 0"):
        msp(rand_sims(), logit_scale=bad)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sims, match", [
    (np.zeros(5), r"sims must be 2-D \(N samples, C classes\), got shape \(5,\); for a single sample use sims\[None\]"),
    (np.zeros((2, 3, 4)), r"sims must be 2-D .* got shape \(2, 3, 4\)"),
    (np.zeros((3, 0)), r"sims has no classes"),
    (np.array([[0.1, 0.2], [np.nan, 0.0]]), r"sims contains 1 NaN/inf value\(s\) \(first at row 1\)"),
    (np.array([[np.inf, 0.0]]), r"sims contains 1 NaN/inf"),
    ([["a", "b"]], "sims must be a numeric"),
])
def test_bad_sims(name, sims, match):
    with pytest.raises(ValueError, match=match): compute(name, sims)


# ---------------------------------------------------------------- GL-MCM
def test_glmcm_against_scipy():
    "GL-MCM = MCM of the global row + local_weight * the largest MCM of any region, each a scipy softmax"
    from clipood.scores import glmcm
    rng = np.random.default_rng(3)
    s, loc = rng.uniform(-1, 1, (30, 6)), rng.uniform(-1, 1, (30, 9, 6))
    for t, w in ((1.0, 1.0), (0.1, 0.5), (0.01, 0.0)):
        ref = softmax(s / t, axis=1).max(1) + w * softmax(loc / t, axis=2).max(axis=(1, 2))
        np.testing.assert_allclose(glmcm(s, loc, temperature=t, local_weight=w), ref, rtol=1e-10)
        np.testing.assert_allclose(compute("glmcm", s, local_sims=loc, temperature=t, local_weight=w), ref, rtol=1e-10)
    with pytest.raises(ValueError, match="score 'glmcm' needs local_sims"): compute("glmcm", s)
