"""Fidelity and learning tests of the adaptation methods (clipood.methods), CPU, tiny CLIP.

Independent checks: open_clip's own (untruncated) text encoder and zero-shot classifier, the
reference implementations' formulas written out literally, scikit-learn fitted directly (linear probe), and
invariants (alpha = 0, zeroed meta-net, Tip-Adapter-F before its first step, CLIP-Adapter with ratio 0).
"""
import builtins
import io
import inspect

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F


from clipood.base import Method, view_schedule
from clipood.methods import (METHODS, CLIPAdapter, CoCoOp, CoOp, LinearProbe, TipAdapter, TipAdapterF, ZeroShotCLIP, build_method,
                             get_method)
from sklearn.linear_model import LogisticRegression
from clipood.models import load_clip

@pytest.fixture(autouse=True)
def _one_thread():
    "Tiny models are latency-bound: one torch thread is faster and immune to oversubscription (restored after)."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


CLASSES = ["circle", "square", "five-pointed star", "heart", "crescent moon", "triangle"]
TEMPLATES = ["a photo of a {}."]


@pytest.fixture(scope="module")
def clip():
    return load_clip("clipood-tiny", pretrained=None, seed=0)


def _fake(clip, n_per, views=None, seed=0, spread=1.5):
    "Class-clustered random raw features (V, N, D) or (N, D), and labels."
    g = torch.Generator().manual_seed(seed)
    D, C = clip.model.visual.output_dim, len(CLASSES)
    centers = torch.randn(C, D, generator=torch.Generator().manual_seed(123))
    y = torch.arange(C).repeat_interleave(n_per)
    shape = (views, len(y), D) if views else (len(y), D)
    return centers[y] + spread * torch.randn(*shape, generator=g), y


@pytest.fixture(scope="module")
def data(clip):
    tr = _fake(clip, 4, views=6, seed=0)
    va = _fake(clip, 3, seed=1)
    te = _fake(clip, 5, seed=2)
    return tr, va, te


# ---------------------------------------------------------------- registry / protocol


@pytest.mark.parametrize("name", sorted(METHODS))
def test_protocol_and_state_roundtrip(clip, data, name):
    (trf, try_), (vaf, vay), (tef, _) = data
    kw = dict(epochs=2, progress=False) if name in ("coop", "cocoop", "locoop", "tipf", "clipadapter") else {}
    if name in ("coop", "cocoop", "locoop", "clipadapter"): kw.update(batch_size=8)
    if name == "linprobe": kw.update(progress=False)
    fit_kw = dict(train_local=trf[:, :, None] + torch.randn(*trf.shape[:2], 3, trf.shape[-1])) if name == "locoop" else {}  # 3 regions
    m = build_method(name, clip, CLASSES, TEMPLATES, seed=0, **kw).fit(trf, try_, vaf, vay, **fit_kw)
    s = m.similarities(tef)
    assert s.shape == (len(tef), len(CLASSES)) and s.dtype == torch.float32 and torch.isfinite(s).all()
    torch.testing.assert_close(m.logits(tef), m.logit_scale * s)
    buf = io.BytesIO(); torch.save(m.state_dict(), buf); buf.seek(0)
    m2 = build_method(name, clip, CLASSES, TEMPLATES, seed=5).load_state_dict(torch.load(buf, weights_only=False))
    torch.testing.assert_close(m2.similarities(tef), s, atol=1e-6, rtol=0)
    if getattr(m, "local_needs_global", False):  # CoCoOp: regions are scored with the prompts of their image's global feature
        loc = torch.stack([tef, -tef], 1)
        ls = m.local_similarities(loc, image_features=tef)
        torch.testing.assert_close(ls[:, 0], s, atol=1e-5, rtol=1e-5); torch.testing.assert_close(ls[:, 1], -s, atol=1e-5, rtol=1e-5)
    elif callable(getattr(m, "local_similarities", None)):  # GL-MCM's local term: every region is scored like an image
        loc = torch.stack([tef, -tef], 1)
        torch.testing.assert_close(m.local_similarities(loc)[:, 1], m.similarities(-tef), atol=1e-6, rtol=0)


def test_bad_inputs(clip, data):
    (trf, try_), _, _ = data
    with pytest.raises(TypeError, match="unknown hyper-parameter"): CoOp(clip, CLASSES, TEMPLATES, learning_rate=1)
    with pytest.raises(ValueError, match="dimension"): TipAdapter(clip, CLASSES, TEMPLATES).fit(trf[..., :5], try_)
    with pytest.raises(ValueError, match=r"must lie in \[0, 6\)"): TipAdapter(clip, CLASSES, TEMPLATES).fit(trf, try_ + 10)
    with pytest.raises(ValueError, match="state_dict is for method"):
        CoOp(clip, CLASSES, TEMPLATES).load_state_dict(ZeroShotCLIP(clip, CLASSES, TEMPLATES).state_dict())
    with pytest.raises(ValueError, match=r"classes \[5\] have none"): LinearProbe(clip, CLASSES, TEMPLATES).fit(trf[:, try_ < 5], try_[try_ < 5])
    with pytest.raises(ValueError, match="lo <= hi"): LinearProbe(clip, CLASSES, TEMPLATES, c_exponents=(2, 1)).fit(trf, try_, *data[1])
    with pytest.raises(ValueError, match=r"ratio must lie in \[0, 1\]"): CLIPAdapter(clip, CLASSES, TEMPLATES, ratio=-0.1)
    with pytest.raises(RuntimeError, match="call fit"): CLIPAdapter(clip, CLASSES, TEMPLATES).similarities(trf[0])


# ---------------------------------------------------------------- exact prompt truncation


def test_coop_truncated_equals_encode_text(clip):
    "CoOp's truncated text features == open_clip's encode_text on the full 77-token prompts."
    m = CoOp(clip, CLASSES, TEMPLATES, ctx_init="a photo of a")
    assert m.trunc_len < m.full_len == 77
    with torch.no_grad():
        ref = F.normalize(clip.model.encode_text(clip.tokenizer([f"a photo of a {c}." for c in CLASSES])), dim=-1)
        torch.testing.assert_close(m.text_features(truncate=True), ref, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- fidelity invariants


def test_cocoop_batched_equals_per_image_loop(clip):
    co = CoCoOp(clip, CLASSES, TEMPLATES, seed=2, memory_budget_mb=0.05)  # forces several chunks
    f = F.normalize(torch.randn(5, co.embed_dim), dim=-1)
    from clipood.text import encode_from_embeddings
    with torch.no_grad():
        ref = []
        for fi in f:
            emb, ids = co.prompt_embeddings(ctx=co.ctx + co.meta_net(fi[None]), truncate=False)
            ref.append(fi @ F.normalize(encode_from_embeddings(clip.model, emb, ids, truncate=False), dim=-1).T)
    torch.testing.assert_close(co.similarities(f), torch.stack(ref), atol=1e-5, rtol=0)


def test_tip_similarities_formula(clip, data):
    "similarities == (100-style logits of the reference) / logit_scale, written out literally."
    (trf, try_), (vaf, vay), (tef, _) = data
    tip = TipAdapter(clip, CLASSES, TEMPLATES).fit(trf, try_, vaf, vay)
    a, b, lam = float(tip.alpha_), float(tip.beta_), tip.logit_scale
    f = tef / tef.norm(dim=-1, keepdim=True)
    W = ZeroShotCLIP(clip, CLASSES, TEMPLATES).prototypes
    logits = lam * f @ W.T + a * ((-1) * (b - b * (f @ tip.keys.T))).exp() @ tip.values
    torch.testing.assert_close(tip.similarities(tef), logits / lam, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- validation only
def _literal_search(tip, vf, vy):
    vf = vf / vf.norm(dim=-1, keepdim=True)
    best = (0, 0, 0)
    for b in [i * (7 - 0.1) / 200 + 0.1 for i in range(200)]:
        for a in [i * (3 - 0.1) / 20 + 0.1 for i in range(20)]:
            logits = tip.logit_scale * vf @ tip.prototypes.T + a * ((-1) * (b - b * (vf @ tip.keys.T))).exp() @ tip.values
            acc = (logits.argmax(-1) == vy).float().mean().item()
            if acc > best[0]: best = (acc, b, a)
    return best


class _Forbidden(Exception): pass


@pytest.mark.parametrize("cls", [TipAdapter, TipAdapterF])
def test_search_reads_validation_only(clip, data, monkeypatch, cls):
    """alpha/beta come from the validation features alone: fit has no test argument, reads no data from
    disk (dataset builders, feature cache, torch.load / np.load / open all raise during fit), and the
    result equals a literal grid search over the validation features."""
    (trf, try_), (vaf, vay), (tef, tey) = data
    import clipood.data, clipood.features
    def forbid(*a, **k): raise _Forbidden("fit tried to read data")
    for mod, attr in [(clipood.data, "get_dataset"), (clipood.features, "image_features"), (torch, "load"),
                      (np, "load"), (builtins, "open")]:
        monkeypatch.setattr(mod, attr, forbid)
    kw = dict(epochs=3, progress=False) if cls is TipAdapterF else {}
    m = cls(clip, CLASSES, TEMPLATES, **kw).fit(trf, try_, vaf, vay)
    monkeypatch.undo()
    acc, b, a = _literal_search(m, vaf, vay)
    assert (float(m.alpha_), float(m.beta_)) == pytest.approx((a, b), abs=1e-9)
    # the validation labels matter (so the search is not vacuous) ...
    perm = TipAdapter(clip, CLASSES, TEMPLATES).fit(trf, try_, vaf, vay.roll(1))
    assert (float(perm.alpha_), float(perm.beta_)) != (float(m.alpha_), float(m.beta_)) or perm.search_result != m.search_result
    # ... and the test set, which fit never receives, cannot change anything
    assert "test" not in " ".join(inspect.signature(cls.fit).parameters)


# ---------------------------------------------------------------- determinism
@pytest.mark.parametrize("name", ["coop", "cocoop", "tipf", "clipadapter"])
def test_seeded_determinism(clip, data, name):
    (trf, try_), (vaf, vay), (tef, _) = data
    kw = dict(epochs=3, progress=False, batch_size=8 if name != "tipf" else 16)
    a = build_method(name, clip, CLASSES, TEMPLATES, seed=7, **kw).fit(trf, try_, vaf, vay)
    b = build_method(name, clip, CLASSES, TEMPLATES, seed=7, **kw).fit(trf, try_, vaf, vay)
    c = build_method(name, clip, CLASSES, TEMPLATES, seed=8, **kw).fit(trf, try_, vaf, vay)
    for k, v in a.state_dict()["tensors"].items(): assert torch.equal(v, b.state_dict()["tensors"][k]), k
    assert not torch.equal(a.similarities(tef), c.similarities(tef))


# ---------------------------------------------------------------- shared context prefix (exact)


# ---------------------------------------------------------------- a real learning check on the synthetic benchmark
def _pretrained_tiny():
    """The synthetic-pretrained tiny CLIP: the shipped checkpoint, else pretrained first if its checkpoint is not
    cached yet (the default recipe: about 5 minutes on 2 CPU cores, once per machine; later runs load it)."""
    from clipood.checkpoints import load_synthetic
    return load_synthetic("clipood-tiny", seed=0)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """4-shot synthetic training set, eval-transform features (N, D).

    Not augmented views: a learning check on them would also test the augmentation (at 32 px CoOp's
    random resized crop, scale 0.08-1, often cuts the object out), not only the method."""
    from clipood.data import DATASETS, get_dataset
    from clipood.fewshot import few_shot
    from clipood.features import image_features
    clip = _pretrained_tiny()
    train = get_dataset("synthetic", "train")
    idx = few_shot(train, 4, 0)
    f, y = image_features(clip, train, views=1, indices=idx, normalize=False,
                          cache_dir=tmp_path_factory.mktemp("features"), progress=False)
    info = DATASETS["synthetic"]
    return clip, list(info.classnames), list(info.templates), f, y


@pytest.mark.parametrize("name,kw", [
    ("coop", dict(epochs=30, batch_size=8)),
    ("cocoop", dict()),  # the reference schedule: batch 1, 10 epochs
    ("tipf", dict(epochs=20, batch_size=16)),
    ("clipadapter", dict(epochs=30, batch_size=8)),
])
def test_training_learns_on_synthetic(synthetic, name, kw):
    """Training lowers the training loss and raises the few-shot training accuracy (pretrained tiny CLIP,
    reference learning rates), and the fitted method beats zero-shot CLIP on the training images."""
    clip, classnames, templates, f, y = synthetic
    m = build_method(name, clip, classnames, templates, seed=0, progress=False, **kw).fit(f, y)
    h = m.history
    losses, accs = [round(r["loss"], 3) for r in h], [round(r["acc"], 3) for r in h]
    assert h[-1]["loss"] < 0.95 * h[0]["loss"], losses
    assert h[-1]["acc"] > h[0]["acc"], accs
    zs_acc = (ZeroShotCLIP(clip, classnames, templates).similarities(f).argmax(-1) == y).float().mean().item()
    acc = (m.similarities(f).argmax(-1) == y).float().mean().item()
    assert acc > zs_acc, (zs_acc, acc, losses, accs)


# ---------------------------------------------------------------- linear probe: scikit-learn itself is the reference
def _np_arrays(f):
    "Every view a sample (view-major), L2-normalised in float64, built with numpy only"
    x = f.double().numpy().reshape(-1, f.shape[-1])
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("search", [True, False])
def test_linprobe_equals_sklearn_fitted_directly(clip, data, search):
    """Predictions and probabilities of the probe == a LogisticRegression fitted directly on the same arrays (numpy),
    with softmax(logit_scale * similarities) as the probe's probabilities (at the searched C, and at the default C = 10)."""
    (trf, try_), (vaf, vay), (tef, _) = data
    m = LinearProbe(clip, CLASSES, TEMPLATES, search=search, progress=False).fit(trf, try_, vaf, vay)
    assert search or float(m.C_) == 10.0
    ref = LogisticRegression(C=float(m.C_), solver="lbfgs", max_iter=1000).fit(_np_arrays(trf), np.tile(try_.numpy(), len(trf)))
    te = _np_arrays(tef)
    s = m.similarities(tef)
    assert np.array_equal(s.argmax(-1).numpy(), ref.predict(te))
    np.testing.assert_allclose(torch.softmax(m.logit_scale * s.double(), -1).numpy(), ref.predict_proba(te), atol=1e-5, rtol=0)
    # MSP of the experiment (softmax at the logit scale) is the probe's top-class probability
    from clipood.scores import compute
    np.testing.assert_allclose(compute("msp", s.numpy(), logit_scale=m.logit_scale), ref.predict_proba(te).max(1), atol=1e-5, rtol=0)


def test_linprobe_search_picks_best_validation_accuracy(clip):
    """A weak class signal in noisy features, so that C matters: every candidate's recorded validation accuracy equals a
    fresh scikit-learn fit's, and the pick is, by hand, the smallest C of the best accuracy (small grid, no refinement)."""
    D, C = clip.model.visual.output_dim, len(CLASSES)
    g, centers = torch.Generator().manual_seed(1), torch.randn(C, D, generator=torch.Generator().manual_seed(123))
    y, yv = torch.arange(C).repeat_interleave(4), torch.arange(C).repeat_interleave(3)
    trf, val = 0.3 * centers[y] + torch.randn(6, len(y), D, generator=g), 0.3 * centers[yv] + torch.randn(len(yv), D, generator=g)
    m = LinearProbe(clip, CLASSES, TEMPLATES, c_exponents=(-3, 3), refine_steps=0, progress=False).fit(trf, y, val, yv)
    grid = [10.0 ** k for k in range(-3, 4)]
    assert [h["C"] for h in m.history] == grid
    X, Y, V = _np_arrays(trf), np.tile(y.numpy(), len(trf)), _np_arrays(val)
    accs = [float((LogisticRegression(C=c, solver="lbfgs", max_iter=1000).fit(X, Y).predict(V) == yv.numpy()).mean()) for c in grid]
    assert [h["val_acc"] for h in m.history] == pytest.approx(accs, abs=1e-12)
    assert len(set(accs)) > 1, accs                      # the search is not vacuous on this case
    assert float(m.C_) == grid[accs.index(max(accs))], (accs, float(m.C_))   # first best in increasing C
    assert m.search_result["val_acc"] == pytest.approx(max(accs))


def test_linprobe_refines_around_the_best_coarse_c(clip, data):
    (trf, try_), (vaf, vay), _ = data
    m = LinearProbe(clip, CLASSES, TEMPLATES, progress=False).fit(trf, try_, vaf, vay)
    coarse = [h for h in m.history if h["stage"] == "coarse"]
    refined = [h["C"] for h in m.history if h["stage"] == "refined"]
    assert [h["C"] for h in coarse] == [10.0 ** k for k in range(-6, 7)]
    c0 = min((-h["val_acc"], h["C"]) for h in coarse)[1]
    assert refined == pytest.approx([c0 * 10 ** (j / 4) for j in (-3, -2, -1, 1, 2, 3)], rel=1e-12)
    assert float(m.C_) in [h["C"] for h in m.history]


# ---------------------------------------------------------------- CLIP-Adapter
def test_clipadapter_ratio_zero_is_zeroshot(clip, data):
    "ratio = 0: f' = f, so the similarities are zero-shot CLIP's (computed independently by ZeroShotCLIP), trained or not"
    (trf, try_), (vaf, vay), (tef, _) = data
    m = CLIPAdapter(clip, CLASSES, TEMPLATES, ratio=0.0, epochs=3, batch_size=8, lr=0.1, progress=False).fit(trf, try_, vaf, vay)
    torch.testing.assert_close(m.similarities(tef), ZeroShotCLIP(clip, CLASSES, TEMPLATES).similarities(tef), atol=1e-6, rtol=1e-5)
    m2 = CLIPAdapter(clip, CLASSES, TEMPLATES, epochs=1, progress=False).fit(trf, try_)
    assert not torch.allclose(m2.similarities(tef), ZeroShotCLIP(clip, CLASSES, TEMPLATES).similarities(tef), atol=1e-4)


def test_clipadapter_reference_forward(clip, data):
    "similarities == the reference's forward written out: adapter on the RAW feature, mix with ratio 0.2, normalise, cosine"
    (trf, try_), _, (tef, _) = data
    m = CLIPAdapter(clip, CLASSES, TEMPLATES, epochs=2, batch_size=8, progress=False).fit(trf, try_)
    W1, W2 = [p.detach() for p in m.adapter.parameters()]
    x = torch.relu(torch.relu(tef @ W1.T) @ W2.T)            # Linear -> ReLU -> Linear -> ReLU, no biases, on raw features
    f = 0.2 * x + 0.8 * tef
    f = f / f.norm(dim=-1, keepdim=True)
    t = ZeroShotCLIP(clip, CLASSES, TEMPLATES).prototypes
    torch.testing.assert_close(m.similarities(tef), f @ t.T, atol=1e-5, rtol=0)


def test_clipadapter_training_lowers_the_loss(clip, data):
    "Class-clustered features: the training loss goes down and the training accuracy up over the epochs"
    (trf, try_), _, _ = data
    m = CLIPAdapter(clip, CLASSES, TEMPLATES, epochs=25, batch_size=8, lr=0.2, progress=False).fit(trf, try_)
    h = m.history   # (a larger rate than the reference's 0.002: a short run on a random CLIP; one new view per epoch)
    assert h[-1]["loss"] < 0.7 * h[0]["loss"], [round(r["loss"], 3) for r in h]
    assert h[-1]["acc"] > h[0]["acc"], [round(r["acc"], 3) for r in h]
