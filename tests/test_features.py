"Extra tests for clipood.features (the notebook nbs/05_features.ipynb holds the main examples/tests)."
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

torch.set_num_threads(min(2, torch.get_num_threads()))

from clipood.features import cache_dir, image_features
from clipood.models import load_clip


class Toy(torch.utils.data.Dataset):
    "Module-level (picklable for DataLoader workers) generated dataset with clipood's dataset attributes"
    def __init__(self, n=12, n_classes=3, name="toy", split="test", salt=0):
        self.n, self.name, self.split, self.salt = n, name, split, salt
        self.targets = [i % n_classes for i in range(n)]
        self.classnames = [f"c{c}" for c in range(n_classes)]
        self.fingerprint = f"{name}-{n}-{n_classes}-{salt}"
    def __len__(self): return self.n
    def __getitem__(self, i):
        arr = (np.random.default_rng(i + 1000 * self.salt).random((36, 44, 3)) * 255).astype(np.uint8)
        return Image.fromarray(arr), i % len(self.classnames)


@pytest.fixture(scope="module")
def clip():
    return load_clip("clipood-tiny", seed=0)


class Counter:
    def __init__(self, clip):
        self.n = 0
        self.h = clip.model.visual.register_forward_hook(lambda m, i, o: setattr(self, "n", self.n + 1))
    def close(self): self.h.remove()


def test_workers_do_not_change_augmented_views(clip, tmp_path):
    a, _ = image_features(clip, Toy(), views=2, num_workers=0, cache=False, progress=False, batch_size=5)
    b, _ = image_features(clip, Toy(), views=2, num_workers=2, cache=False, progress=False, batch_size=3)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_mismatched_file_is_rebuilt(clip, tmp_path):
    f, y = image_features(clip, Toy(), cache_dir=tmp_path, progress=False)
    (path,) = (tmp_path / "features").rglob("*.pt")
    obj = torch.load(path, weights_only=True)
    obj["meta"]["fingerprint"] = "something else"
    obj["features"] = torch.zeros_like(obj["features"])
    torch.save(obj, path)
    c = Counter(clip)
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            f2, _ = image_features(clip, Toy(), cache_dir=tmp_path, progress=False)
        assert c.n > 0 and any("metadata differs" in str(x.message) for x in w)
        torch.testing.assert_close(f, f2)
        n = c.n
        image_features(clip, Toy(), cache_dir=tmp_path, progress=False)
        assert c.n == n
    finally:
        c.close()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_cache_keys_separate_what_differs(clip, tmp_path):
    other = load_clip("clipood-tiny", seed=1)
    kw = dict(cache_dir=tmp_path, progress=False)
    image_features(clip, Toy(), **kw)
    image_features(clip, Toy(), **kw)                       # same key: no new file
    image_features(other, Toy(), **kw)                      # other weights
    image_features(clip, Toy(salt=1), **kw)                 # other fingerprint
    image_features(clip, Toy(split="train"), **kw)          # other split
    image_features(clip, Toy(), indices=[0, 1], **kw)       # subset
    image_features(clip, Toy(), views=2, **kw)              # augmented
    image_features(clip, Toy(), views=2, seed=1, **kw)      # other seed
    image_features(clip, Toy(), seed=1, **kw)               # seed is irrelevant for views=1: no new file
    files = list((tmp_path / "features").rglob("*.pt"))
    assert len(files) == 7, sorted(p.name for p in files)
    # different features for different weights / data, as they should
    a, _ = image_features(clip, Toy(), **kw)
    b, _ = image_features(other, Toy(), **kw)
    c, _ = image_features(clip, Toy(salt=1), **kw)
    assert not torch.equal(a, b) and not torch.equal(a, c)


def test_bf16_model_has_its_own_cache_entry(clip, tmp_path):
    bf = load_clip("clipood-tiny", precision="bf16", seed=0)
    assert bf.model_id == clip.model_id
    a, _ = image_features(clip, Toy(), cache_dir=tmp_path, progress=False)
    b, _ = image_features(bf, Toy(), cache_dir=tmp_path, progress=False)
    assert b.dtype == torch.float32
    assert len(list((tmp_path / "features").rglob("*.pt"))) == 2
    assert torch.nn.functional.cosine_similarity(a, b).min() > 0.97   # bf16 ~ 3 significant digits


def test_env_cache_dir(clip, tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPOOD_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    image_features(clip, Toy(n=3), progress=False)
    assert len(list((tmp_path / "env" / "features").rglob("*.pt"))) == 1


def test_targets_must_match_items(clip):
    ds = Toy(n=4)
    ds.targets = [0, 0, 0, 0]
    with pytest.raises(ValueError, match="disagrees"):
        image_features(clip, ds, cache=False, progress=False)


def test_dataset_by_name(clip, tmp_path, monkeypatch):
    "A registry name goes through clipood.data.get_dataset (real JPEG files in a temporary folder)"
    data = pytest.importorskip("clipood.data")
    folder = tmp_path / "data" / "jpegs"
    folder.mkdir(parents=True)
    paths = []
    for i in range(6):
        p = folder / f"{i}.jpg"
        Image.fromarray((np.random.default_rng(i).random((40, 40, 3)) * 255).astype(np.uint8)).save(p, quality=90)
        paths.append(p)
    builder = lambda root, split: data.ImageListDataset(paths, [i % 2 for i in range(6)], ["a", "b"],
                                                         "tmp-jpegs", split, folder)
    info = data.DatasetInfo(name="tmp-jpegs", role="id", classnames=["a", "b"], builder=builder,
                            splits={"test": "all"}, folder="jpegs")
    monkeypatch.setitem(data.DATASETS, "tmp-jpegs", info)
    f, y = image_features(clip, "tmp-jpegs", split="test", root=tmp_path / "data", cache_dir=tmp_path, progress=False)
    assert f.shape == (6, 128) and y.tolist() == [0, 1, 0, 1, 0, 1]
    with torch.no_grad():
        ref = clip.model.encode_image(torch.stack([clip.preprocess(Image.open(p).convert("RGB")) for p in paths]))
    torch.testing.assert_close(f, torch.nn.functional.normalize(ref, dim=-1), atol=1e-5, rtol=0)
    c = Counter(clip)
    try:
        f2, _ = image_features(clip, "tmp-jpegs", root=tmp_path / "data", cache_dir=tmp_path, progress=False)
    finally:
        c.close()
    assert c.n == 0 and torch.equal(f, f2)
