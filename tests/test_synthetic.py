"Tests of clipood.synthetic: determinism (in and across processes), speed, balance, registry, errors."
import hashlib
import subprocess
import sys
import time

import numpy as np
import pytest

from clipood import synthetic as syn


def _digest(ims): return hashlib.sha256(np.ascontiguousarray(ims).tobytes()).hexdigest()


def test_same_seed_byte_identical_across_processes():
    "A fresh interpreter renders the same bytes for the same seed (no hidden global RNG state)"
    ims, _, caps = syn.generate(64, 3, "synthetic/test", style=syn.DOWNSTREAM_STYLE, classes=syn.ID_SHAPES)
    code = ("import hashlib, numpy as np; from clipood import synthetic as s; "
            "np.random.seed(123); "  # global numpy state must not matter
            "ims, _, caps = s.generate(64, 3, 'synthetic/test', style=s.DOWNSTREAM_STYLE, classes=s.ID_SHAPES); "
            "print(hashlib.sha256(ims.tobytes()).hexdigest(), hashlib.sha256('|'.join(caps).encode()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [_digest(ims), hashlib.sha256("|".join(caps).encode()).hexdigest()]


def test_seeds_and_streams_differ():
    a = syn.generate(16, 0, "pretrain")[0]
    assert _digest(a) != _digest(syn.generate(16, 1, "pretrain")[0])
    assert _digest(a) != _digest(syn.generate(16, 0, "pretrain-heldout")[0])


def test_pretrain_batches_are_slices_of_one_stream():
    i0, c0 = syn.pretrain_batch(0, 8)
    i1, c1 = syn.pretrain_batch(1, 8)
    both, _, call = syn.generate(16, 0, "pretrain", p_object=syn.PRETRAIN_P_OBJECT)
    assert _digest(np.concatenate([i0, i1])) == _digest(both) and c0 + c1 == call


def test_whole_benchmark_under_a_minute():
    t0 = time.time()
    n = sum(len(syn._split_arrays.__wrapped__(name, split, 5, per, syn.DOWNSTREAM_STYLE)[0])
            for (name, split), (_, _, per) in syn.BENCHMARK.items())
    assert n == 24 * 400 + 3 * 1200 and time.time() - t0 < 60


def test_splits_balanced_and_labelled():
    for (name, split), (kind, classes, per) in syn.BENCHMARK.items():
        d = syn.synthetic_dataset(name, split)
        assert len(d) == per * len(classes) and d.classnames == classes
        assert np.bincount(d.targets).tolist() == [per] * len(classes)
        assert d.images.shape[1:] == (32, 32, 3) and d.images.dtype == np.uint8
    assert set(syn.ID_SHAPES).isdisjoint(syn.NEAR_SHAPES) and len(syn.ID_SHAPES) + len(syn.NEAR_SHAPES) == len(syn.SHAPES)
    # far-OOD images have no object; ID/near images all have one of their class
    far = syn.synthetic_dataset("synthetic-far")
    assert far.captions and not any(s in c for c in far.captions for s in syn.SHAPES)


def test_train_and_test_disjoint():
    tr, te = syn.synthetic_dataset("synthetic", "train"), syn.synthetic_dataset("synthetic", "test")
    assert not ({_digest(x) for x in tr.images} & {_digest(x) for x in te.images})


def test_registry_roundtrip(tmp_path):
    from clipood.data import get_dataset, DATASETS
    d = get_dataset("synthetic", "test", root=tmp_path / "nothing-here")
    assert (d.name, d.split, len(d)) == ("synthetic", "test", 1200)
    img, y = d[0]
    assert img.size == (32, 32) and img.mode == "RGB" and isinstance(y, int)
    assert DATASETS["synthetic"].role == "id" and DATASETS["synthetic-near"].role == "ood"
    assert get_dataset("synthetic-far").fingerprint == syn.synthetic_dataset("synthetic-far").fingerprint
    with pytest.raises(ValueError, match="split"):
        get_dataset("synthetic-near", "train")


def test_transform_does_not_leak_between_objects():
    a = syn.synthetic_dataset("synthetic", "test")
    a.transform = lambda im: "changed"
    assert syn.synthetic_dataset("synthetic", "test").transform is None


def test_bad_arguments():
    with pytest.raises(KeyError, match="blob"):
        syn.generate(1, 0, "x", shapes=["blob"])
    with pytest.raises(ValueError, match="per_class"):
        syn.synthetic_dataset("synthetic", "train", per_class=0)
    with pytest.raises(ValueError, match="no synthetic split"):
        syn.synthetic_dataset("synthetic", "validation")
