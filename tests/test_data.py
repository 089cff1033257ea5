"Tests of clipood.data, datasets, fewshot and datacheck on miniature copies of the real dataset layouts (real image files written with PIL)"
import json
import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clipood.data import (DATASETS, CorruptImageError, DatasetInfo, DatasetNotFoundError, ImageListDataset,
                          dataset_names, get_dataset, load_image, register_dataset)
from clipood.datacheck import data_check, data_check_cli
from clipood.datasets import imagenet_classes
from clipood.fewshot import few_shot, validation_split
from clipood.testing import make_fake_root

REAL = ["imagenet", "caltech101", "oxford_pets", "food101", "stanford_cars", "inaturalist", "sun", "places", "texture"]


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    "All real layouts: 3 classes x (6 train + 3 test) images; Caltech 4 kept classes x 6; ImageNet 1000 x (1 + 1)"
    return make_fake_root(tmp_path_factory.mktemp("fake") / "data")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    "Food-101 with 20 training images per class (enough for 16 shots)"
    return make_fake_root(tmp_path_factory.mktemp("big"), ["food101"], n_per_class=20, n_classes=4)


def _img(path, color=(1, 2, 3), size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path)


# ---------------------------------------------------------------- registry

def test_builtin_registry():
    assert [n for n in dataset_names("id") if n in REAL] == ["imagenet", "caltech101", "oxford_pets", "food101", "stanford_cars"]
    assert [n for n in dataset_names("ood") if n in REAL] == ["inaturalist", "sun", "places", "texture"]
    tmpl = {n: DATASETS[n].templates for n in REAL}
    assert tmpl["imagenet"] == tmpl["caltech101"] == tmpl["stanford_cars"] == ["a photo of a {}."]
    assert tmpl["oxford_pets"] == ["a photo of a {}, a type of pet."]
    assert tmpl["food101"] == ["a photo of {}, a type of food."]
    assert tmpl["texture"] == ["{} texture."]
    for n in REAL:
        info = DATASETS[n]
        assert info.source and info.layout and info.folder and not info.generated
        assert set(info.splits) == ({"train", "test"} if info.role == "id" else {"test"})
    assert DATASETS["texture"].expected == {"test": 5640}
    assert all(DATASETS[n].expected == {"test": 10_000} for n in ("inaturalist", "sun", "places"))


def test_near_and_far_ood():
    "The paper's four OOD sets are far-OOD for ImageNet-1k, NINCO / SSB-hard / ImageNet-O near-OOD (their papers' counts)"
    from clipood.data import ood_kind
    assert [ood_kind(n) for n in ("inaturalist", "sun", "places", "texture", "synthetic-far")] == ["far"] * 5
    assert [ood_kind(n) for n in ("ninco", "SSB-hard", "imagenet_o", "synthetic-near")] == ["near"] * 4
    assert {n: DATASETS[n].expected["test"] for n in ("ninco", "ssb_hard", "imagenet_o")} == dict(ninco=5879, ssb_hard=49_000, imagenet_o=2000)
    assert all(DATASETS[n].ood_kind is None for n in dataset_names("id"))
    with pytest.raises(ValueError, match="is an ID dataset"):
        ood_kind("imagenet")
    with pytest.raises(ValueError, match="must be one of"):
        register_dataset(DatasetInfo("x-ood", "ood", builder=print, ood_kind="medium"))


def test_unknown_name_and_split():
    with pytest.raises(KeyError, match="registered datasets: caltech101, food101, imagenet"):  # sorted: the same whatever registered first
        get_dataset("cifar10")
    with pytest.raises(ValueError, match="has no split 'train'"):
        get_dataset("texture", "train")
    with pytest.raises(ValueError, match="available: train, test"):
        get_dataset("food101", "val")


def test_imagenet_asset_matches_open_clip_and_timm():
    import importlib.resources
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES
    wnids, names = imagenet_classes()
    assert len(names) == 1000 and list(names) == list(IMAGENET_CLASSNAMES)
    assert list(wnids) == sorted(wnids) == (importlib.resources.files("timm.data") / "_info" / "imagenet_synsets.txt").read_text().split()
    text = (importlib.resources.files("clipood") / "assets" / "imagenet_classnames.txt").read_text()
    assert "open_clip.zero_shot_metadata.IMAGENET_CLASSNAMES" in text and "imagenet_synsets.txt" in text
    assert DATASETS["imagenet"].classnames == list(names)


def test_register_generated_dataset():
    class Gen(torch.utils.data.Dataset):
        def __init__(self, split):
            self.name, self.split, self.classnames, self.fingerprint = "t-gen", split, ["a", "b"], "fp-" + split
            self.targets = [0, 1, 1]
        def __len__(self): return 3
        def __getitem__(self, i): return Image.new("RGB", (2, 2)), self.targets[i]
    try:
        register_dataset(DatasetInfo("t-gen", "ood", ["a", "b"], ["{} shape."], builder=lambda root, split: Gen(split)))
        ds = get_dataset("T_Gen", root="/nonexistent/root")  # root ignored, name matched loosely
        assert ds.targets == [0, 1, 1] and DATASETS["t-gen"].generated
        df = data_check("/nonexistent/root", names=["t-gen"])
        assert df.status.tolist() == ["generated"]
        with pytest.raises(ValueError, match="too close"):
            register_dataset(DatasetInfo("T-GEN", "ood", builder=print))
    finally:
        DATASETS.pop("t-gen", None)
    with pytest.raises(ValueError, match="role"):
        register_dataset(DatasetInfo("x", "train", builder=print))
    with pytest.raises(ValueError, match="builder"):
        register_dataset(DatasetInfo("x", "id"))
    with pytest.raises(ValueError, match="placeholder"):
        register_dataset(DatasetInfo("x", "id", templates=["no slot"], builder=print))
    with pytest.raises(TypeError):
        register_dataset({"name": "x"})
    try:
        register_dataset(DatasetInfo("t-bad", "id", builder=lambda root, split: [1, 2], splits={"test": ""}))
        with pytest.raises(TypeError, match="without"):
            get_dataset("t-bad")
    finally:
        DATASETS.pop("t-bad", None)


# ---------------------------------------------------------------- happy paths

EXPECTED = {("imagenet", "train"): (1000, 1000), ("imagenet", "test"): (1000, 1000),
            ("caltech101", "train"): (12, 4), ("caltech101", "test"): (8, 4),
            ("oxford_pets", "train"): (18, 3), ("oxford_pets", "test"): (9, 3),
            ("food101", "train"): (18, 3), ("food101", "test"): (9, 3),
            ("stanford_cars", "train"): (18, 3), ("stanford_cars", "test"): (9, 3),
            ("inaturalist", "test"): (18, 1), ("sun", "test"): (18, 1), ("places", "test"): (18, 1),
            ("texture", "test"): (18, 3)}


@pytest.mark.parametrize("name,split", list(EXPECTED))
def test_counts_and_interface(fake, name, split):
    ds = get_dataset(name, split, root=fake)
    assert (len(ds), len(ds.classnames)) == EXPECTED[(name, split)]
    assert (ds.name, ds.split) == (name, split)
    assert isinstance(ds.targets, list) and all(isinstance(t, int) for t in ds.targets)
    assert len(ds.fingerprint) == 16 and ds.fingerprint == get_dataset(name, split, root=fake).fingerprint
    img, y = ds[len(ds) - 1]
    assert img.mode == "RGB" and y == ds.targets[-1]
    assert all(not c.count("_") for c in ds.classnames)


def test_fingerprints_all_differ(fake):
    fps = {get_dataset(n, s, root=fake).fingerprint for n, s in EXPECTED}
    assert len(fps) == len(EXPECTED)


def test_labels_match_files(fake):
    food = get_dataset("food101", "test", root=fake)
    assert food.classnames == ["apple pie", "baby back ribs", "baklava"]
    assert all(Path(p).parent.name.replace("_", " ") == food.classnames[t] for p, t in food.samples)
    pets = get_dataset("oxford_pets", "test", root=fake)
    assert pets.classnames == ["abyssinian", "american bulldog", "bengal"]
    assert all(Path(p).stem.rsplit("_", 1)[0].replace("_", " ").lower() == pets.classnames[t] for p, t in pets.samples)
    cars = get_dataset("stanford_cars", "train", root=fake)
    assert cars.classnames == ["2000 AM General Hummer SUV", "2012 Acura RL Sedan", "2012 Acura TL Sedan"]
    assert np.bincount(cars.targets).tolist() == [6, 6, 6]
    cal = get_dataset("caltech101", "train", root=fake)
    assert cal.classnames == ["face", "leopard", "accordion", "airplane"]
    folders = {"Faces": "face", "Leopards": "leopard", "accordion": "accordion", "airplanes": "airplane"}
    assert all(folders[Path(p).parent.name] == cal.classnames[t] for p, t in cal.samples)
    tex = get_dataset("texture", root=fake)
    assert all(Path(p).parent.name == tex.classnames[t] for p, t in tex.samples)
    wnids, _ = imagenet_classes()
    im = get_dataset("imagenet", "train", root=fake)
    assert all(Path(p).parent.name == wnids[t] for p, t in im.samples)
    assert im.targets == list(range(1000))


def test_caltech_split_is_disjoint_and_deterministic(fake):
    tr, te = (get_dataset("caltech101", s, root=fake) for s in ("train", "test"))
    assert not set(tr.relpaths) & set(te.relpaths)
    assert all("BACKGROUND_Google" not in p and "Faces_easy" not in p for p in tr.relpaths + te.relpaths)
    assert np.bincount(tr.targets).tolist() == [3] * 4 and np.bincount(te.targets).tolist() == [2] * 4
    # one image per category was written as grayscale: loaded as RGB
    gray = [(d, i) for d in (tr, te) for i, p in enumerate(d.relpaths) if p.endswith("image_0001.jpg")]
    assert gray and all(Image.open(d.paths[i]).mode == "L" and d[i][0].mode == "RGB" for d, i in gray)


def test_fingerprint_relocation_and_change(fake, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(fake / "food-101", copy / "food-101")
    a, b = get_dataset("food101", "train", root=fake), get_dataset("food101", "train", root=copy)
    assert a.fingerprint == b.fingerprint and a.paths != b.paths
    meta = json.loads((copy / "food-101/meta/train.json").read_text())
    meta["apple_pie"], meta["baklava"] = meta["baklava"], meta["apple_pie"]  # swap two classes' files
    (copy / "food-101/meta/train.json").write_text(json.dumps(meta))
    assert get_dataset("food101", "train", root=copy).fingerprint != a.fingerprint


def test_env_root(fake, monkeypatch):
    monkeypatch.setenv("CLIPOOD_DATA", str(fake))
    assert len(get_dataset("sun")) == 18


def test_subset_transform_pickle(fake):
    ds = get_dataset("food101", "train", root=fake, transform=lambda im: torch.tensor(im.getpixel((0, 0))))
    x, y = ds[3]
    assert x.shape == (3,) and y == ds.targets[3]
    sub = ds.subset([5, 1])
    assert sub.targets == [ds.targets[5], ds.targets[1]] and sub.fingerprint != ds.fingerprint
    ds.transform = None
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.fingerprint == ds.fingerprint and clone.targets == ds.targets


def test_dataloader(fake):
    import torchvision.transforms as T
    ds = get_dataset("texture", root=fake, transform=T.ToTensor())
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=5)))
    assert xb.shape == (5, 3, 8, 8) and yb.tolist() == ds.targets[:5]


# ---------------------------------------------------------------- alternative layouts

def test_zhou_split_caltech_food_cars(fake, tmp_path):
    root = tmp_path / "z"
    for f in ("caltech101", "food-101", "stanford_cars"): shutil.copytree(fake / f, root / f)
    (root / "caltech101/split_zhou_Caltech101.json").write_text(json.dumps({
        "train": [["Faces/image_0002.jpg", 0, "face"], ["accordion/image_0003.jpg", 1, "accordion"]],
        "val": [["accordion/image_0004.jpg", 1, "accordion"]],
        "test": [["Faces/image_0005.jpg", 0, "face"]]}))
    cal = get_dataset("caltech101", "train", root=root)
    assert (cal.classnames, cal.targets, cal.relpaths) == (["face", "accordion"], [0, 1],
        ["101_ObjectCategories/Faces/image_0002.jpg", "101_ObjectCategories/accordion/image_0003.jpg"])
    (root / "food-101/split_zhou_Food101.json").write_text(json.dumps({
        "train": [["baklava/100.jpg", 1, "baklava"]], "val": [],
        "test": [["apple_pie/101.jpg", 0, "apple_pie"], ["baklava/102.jpg", 1, "baklava"]]}))
    food = get_dataset("food101", "test", root=root)
    assert (food.classnames, food.targets, len(food)) == (["apple pie", "baklava"], [0, 1], 2)
    (root / "stanford_cars/split_zhou_StanfordCars.json").write_text(json.dumps({
        "train": [["cars_train/00001.jpg", 0, "2000 AM General Hummer SUV"]], "val": [],
        "test": [["cars_test/00001.jpg", 0, "2000 AM General Hummer SUV"]]}))
    cars = get_dataset("stanford_cars", "train", root=root)
    assert cars.relpaths == ["cars_train/00001.jpg"] and cars.classnames == ["2000 AM General Hummer SUV"]
    # CoOp's folder name for Caltech
    (root / "caltech101").rename(root / "caltech-101")
    assert get_dataset("caltech101", "train", root=root).targets == [0, 1]


def test_zhou_errors(fake, tmp_path):
    root = tmp_path / "z"
    shutil.copytree(fake / "food-101", root / "food-101")
    path = root / "food-101/split_zhou_Food101.json"
    path.write_text(json.dumps({"train": [["baklava/999.jpg", 0, "baklava"]], "val": [], "test": []}))
    with pytest.raises(DatasetNotFoundError, match="baklava/999.jpg"):
        get_dataset("food101", "train", root=root)
    path.write_text(json.dumps({"train": [["baklava/100.jpg", 1, "baklava"]], "val": [], "test": []}))
    with pytest.raises(DatasetNotFoundError, match="labels are not 0..0"):
        get_dataset("food101", "train", root=root)
    path.write_text("{not json")
    with pytest.raises(DatasetNotFoundError, match="cannot read split_zhou_Food101.json"):
        get_dataset("food101", "train", root=root)


def test_ood_layouts(tmp_path):
    for i in range(3): _img(tmp_path / "flat" / "SUN" / f"{i}.jpg")
    sun = get_dataset("sun", root=tmp_path / "flat")
    assert (len(sun), sun.classnames, sun.relpaths[0]) == (3, ["SUN"], "0.jpg")
    for c in ("beach", "canyon"):
        for i in range(2): _img(tmp_path / "tree" / "Places" / c / f"{i}.png")
    places = get_dataset("places", root=tmp_path / "tree")
    assert (places.classnames, places.targets) == (["beach", "canyon"], [0, 0, 1, 1])
    (tmp_path / "empty" / "iNaturalist" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "iNaturalist" / "images" / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetNotFoundError, match="no image files"):
        get_dataset("inaturalist", root=tmp_path / "empty")


def test_texture_layouts_agree(fake, tmp_path):
    ref = get_dataset("texture", root=fake)
    shutil.copytree(fake / "dtd/dtd/images", tmp_path / "a" / "dtd" / "images")
    shutil.copytree(fake / "dtd/dtd/images", tmp_path / "b" / "Textures")
    for r in ("a", "b"):
        ds = get_dataset("texture", root=tmp_path / r)
        assert (ds.fingerprint, ds.targets, ds.classnames) == (ref.fingerprint, ref.targets, ref.classnames)


def test_imagenet_coop_layout(fake, tmp_path):
    (tmp_path / "imagenet" / "images").mkdir(parents=True)
    (tmp_path / "imagenet" / "images" / "val").symlink_to(fake / "imagenet" / "val", target_is_directory=True)
    ds = get_dataset("imagenet", root=tmp_path)
    assert ds.fingerprint == get_dataset("imagenet", root=fake).fingerprint


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("name", REAL)
def test_missing_dataset_error(tmp_path, name):
    with pytest.raises(DatasetNotFoundError) as ei:
        get_dataset(name, "test", root=tmp_path)
    msg, info = str(ei.value), DATASETS[name]
    assert isinstance(ei.value, FileNotFoundError) and ei.value.dataset == name
    assert f"dataset {name!r}" in msg and f"looked in: {tmp_path}" in msg
    assert info.source in msg and all(l.strip() in msg for l in info.layout.splitlines())
    assert list(tmp_path.iterdir()) == []  # nothing created while looking


def test_incomplete_torchvision_layouts(tmp_path):
    root = make_fake_root(tmp_path, ["oxford_pets", "food101", "stanford_cars", "texture", "caltech101"], n_classes=2)
    (root / "oxford-iiit-pet/images/Abyssinian_2.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"1 of 12 listed image files are missing, e.g. .*Abyssinian_2.jpg"):
        get_dataset("oxford_pets", "train", root=root)
    shutil.rmtree(root / "oxford-iiit-pet/annotations")
    with pytest.raises(DatasetNotFoundError, match="Dataset not found"):
        get_dataset("oxford_pets", "train", root=root)
    (root / "food-101/meta/test.json").unlink()
    with pytest.raises(DatasetNotFoundError, match="test.json"):
        get_dataset("food101", "test", root=root)
    (root / "stanford_cars/devkit/cars_meta.mat").unlink()
    with pytest.raises(DatasetNotFoundError, match="cars_meta.mat"):
        get_dataset("stanford_cars", "train", root=root)
    (root / "dtd/dtd/labels/val1.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="val1.txt"):
        get_dataset("texture", root=root)
    (root / "caltech101/101_ObjectCategories/accordion/image_0003.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match="accordion/image_0003.jpg"):
        get_dataset("caltech101", "train", root=root)


def test_imagenet_errors(fake, tmp_path):
    root = tmp_path
    shutil.copytree(fake / "imagenet" / "val", root / "imagenet" / "val")
    shutil.rmtree(root / "imagenet/val/n15075141")
    with pytest.raises(DatasetNotFoundError, match=r"1 of 1000 classes have no images, e.g. \['n15075141'\]"):
        get_dataset("imagenet", root=root)
    (root / "imagenet/val/n15075141").mkdir()  # empty folder: still incomplete
    with pytest.raises(DatasetNotFoundError, match="1 of 1000 classes have no images"):
        get_dataset("imagenet", root=root)
    (root / "imagenet/val/cats").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"not ImageNet-1k wnids, e.g. \['cats'\]"):
        get_dataset("imagenet", root=root)
    with pytest.raises(DatasetNotFoundError, match="no folder imagenet/train"):
        get_dataset("imagenet", "train", root=root)
    shutil.rmtree(root / "imagenet/val")
    _img(root / "imagenet/val/ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(DatasetNotFoundError, match="1 loose images: sort the val images into one folder per wnid"):
        get_dataset("imagenet", root=root)


def test_corrupt_and_truncated_images(tmp_path):
    for i in range(3): _img(tmp_path / "SUN" / "images" / f"{i}.jpg", size=64)
    (tmp_path / "SUN/images/1.jpg").write_bytes(b"GIF89a garbage")
    full = (tmp_path / "SUN/images/2.jpg").read_bytes()
    (tmp_path / "SUN/images/2.jpg").write_bytes(full[:len(full) // 2])
    ds = get_dataset("sun", root=tmp_path)  # indexing does not decode
    assert ds[0][0].size == (64, 64)
    for i in (1, 2):
        with pytest.raises(CorruptImageError, match=str(tmp_path / f"SUN/images/{i}.jpg")) as ei:
            ds[i]
        assert ei.value.path == tmp_path / f"SUN/images/{i}.jpg"
    # verify() catches the non-image, decoding also catches the truncated JPEG
    df = data_check(tmp_path, names=["sun"], verify=True)
    assert df.status[0] == "corrupt" and len(df.corrupt[0]) >= 1 and "1.jpg" in df.corrupt[0][0]
    df = data_check(tmp_path, names=["sun"], decode=True)
    assert [Path(l.split(":")[0]).name for l in df.corrupt[0]] == ["1.jpg", "2.jpg"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image(tmp_path / "nope.jpg")


# ---------------------------------------------------------------- few-shot and validation

def test_few_shot_nested_stratified_deterministic(big):
    ds = get_dataset("food101", "train", root=big)
    t = np.asarray(ds.targets)
    for seed in (0, 1, 2):
        sets = {k: few_shot(ds, k, seed) for k in (1, 2, 4, 8, 16)}
        for a, b in ((1, 2), (2, 4), (4, 8), (8, 16)):
            assert set(sets[a]) < set(sets[b])
        for k, idx in sets.items():
            assert np.bincount(t[idx], minlength=4).tolist() == [k] * 4
            assert len(set(idx)) == len(idx) and np.all(np.diff(idx) > 0)
        again = get_dataset("food101", "train", root=big)  # a fresh object gives the same indices
        assert np.array_equal(few_shot(again, 16, seed), sets[16])
    assert not np.array_equal(few_shot(ds, 4, 0), few_shot(ds, 4, 1))


def test_few_shot_is_roughly_uniform():
    "independent check: over many seeds each image of a class is picked about K/n of the time"
    ds = ImageListDataset(["x"] * 30, [i % 3 for i in range(30)], ["a", "b", "c"], "toy", "train", "/")
    counts = np.zeros(30)
    for seed in range(600): counts[few_shot(ds, 2, seed)] += 1
    assert np.allclose(counts / 600, 2 / 10, atol=0.06)


def test_few_shot_errors(big):
    ds = get_dataset("food101", "train", root=big)
    with pytest.raises(ValueError, match=r"4 class\(es\) have fewer than 21 images.*'apple pie' \(20\)"):
        few_shot(ds, 21, 0)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="shots must be an integer >= 1"):
            few_shot(ds, bad, 0)
    with pytest.raises(ValueError, match="seed"):
        few_shot(ds, 1, -3)
    with pytest.raises(TypeError, match="targets"):
        few_shot([1, 2, 3], 1, 0)
    lopsided = ImageListDataset(["x"] * 5, [0, 0, 0, 2, 2], ["a", "b", "c"], "toy", "train", "/")
    with pytest.raises(ValueError, match=r"'b' \(0\)"):
        few_shot(lopsided, 1, 0)


def test_validation_split(big):
    ds = get_dataset("food101", "train", root=big)
    t = np.asarray(ds.targets)
    val = validation_split(ds, 3, seed=2)
    assert np.bincount(t[val]).tolist() == [3] * 4
    assert not set(val) & set(few_shot(ds, 16, 2))
    assert set(val) | set(few_shot(ds, 16, 2)) == set(few_shot(ds, 19, 2))
    assert np.array_equal(val, validation_split(ds, 3, seed=2))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        short = validation_split(ds, 10, seed=2)
    assert len(short) == 16 and "fewer than max_shots + per_class = 26" in str(w[0].message)
    with pytest.raises(ValueError, match="'apple pie' \\(20\\)"):
        validation_split(ds, 10, seed=2, strict=True)
    with pytest.raises(ValueError, match="few_shot\\(21\\) itself is impossible"):
        validation_split(ds, 1, seed=2, max_shots=21)
    small = validation_split(ds, 2, seed=2, max_shots=4)
    assert not set(small) & set(few_shot(ds, 4, 2)) and len(small) == 8


# ---------------------------------------------------------------- data check

def test_data_check_table(fake, tmp_path):
    df = data_check(fake, names=REAL)
    assert len(df) == len(EXPECTED)
    got = {(r.dataset, r.split): (r.images, r.classes) for r in df.itertuples()}
    assert got == EXPECTED
    assert set(df.status) == {"ok", "partial"}
    assert df.set_index(["dataset", "split"]).loc[("texture", "test"), "expected"] == 5640
    miss = data_check(tmp_path, names=["food101", "sun"])
    assert miss.status.tolist() == ["missing"] * 3 and "no folder SUN/" in miss.detail[2]


def test_cli_in_process(fake, capsys):
    assert data_check_cli(["--root", str(fake), "--names", "food101", "texture"]) == 0
    out = capsys.readouterr().out
    assert f"clipood data root: {fake}" in out and "food101" in out and "texture" in out and "5640" in out


def test_console_script(fake, tmp_path):
    exe = Path(sys.executable).with_name("clipood-data-check")
    if not exe.exists(): pytest.skip("clipood-data-check not installed (pip install -e .)")
    r = subprocess.run([str(exe), "--root", str(fake), "--names", "sun", "oxford_pets"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "oxford_pets" in r.stdout and "sun" in r.stdout and "partial" in r.stdout
    r = subprocess.run([str(exe), "--root", str(tmp_path), "--names", "sun"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "missing" in r.stdout


def test_unknown_name_imports_plugins_once(tmp_path, monkeypatch):
    import clipood.data as data
    (tmp_path / "clipood_test_plugin.py").write_text(
        "from clipood.data import DatasetInfo, register_dataset, ImageListDataset\n"
        "register_dataset(DatasetInfo('t-plugin', 'id', ['a'], builder=lambda root, split: "
        "ImageListDataset([], [], ['a'], 't-plugin', split, '/')))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(data, "_PLUGINS", ["clipood_test_plugin", "clipood_no_such_module"])
    try:
        assert len(get_dataset("T-Plugin", root=tmp_path)) == 0
        assert data._PLUGINS == []
    finally:
        DATASETS.pop("t-plugin", None)


def test_cli_explain_and_strict(tmp_path, capsys):
    assert data_check_cli(["--root", str(tmp_path), "--names", "food101", "--explain"]) == 0
    out = capsys.readouterr().out
    assert DATASETS["food101"].source in out and "meta/train.json, test.json" in out
    assert data_check_cli(["--root", str(tmp_path), "--names", "food101", "--strict"]) == 1


def test_smallest_fake_root_builds(tmp_path):
    root = make_fake_root(tmp_path, [n for n in REAL if n != "imagenet"], n_per_class=2, n_classes=2)
    for n in REAL[1:]:
        for s in DATASETS[n].splits:
            assert len(get_dataset(n, s, root=root)) >= 1, (n, s)
    with pytest.raises(ValueError, match="n_classes"):
        make_fake_root(tmp_path, ["sun"], n_classes=9)
    with pytest.raises(KeyError, match="unknown dataset 't-nothing'"):
        make_fake_root(tmp_path, ["sun", "t-nothing"])


# ---------------------------------------------------------------- clipood-fake-data (paper-scale fake root)

def _script(name):
    "argv running console script `name` as pyproject.toml registers it (module:function), in a fresh interpreter"
    import tomllib
    target = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"][name]
    mod, fn = target.split(":")
    return [sys.executable, "-c", f"import sys; from {mod} import {fn}; sys.exit({fn}())"]


@pytest.fixture(scope="module")
def paper_fake(tmp_path_factory):
    "`clipood-fake-data ROOT -k 1`: every dataset of the paper's grid, 1 image per class and split"
    root = tmp_path_factory.mktemp("paper") / "fake"
    r = subprocess.run(_script("clipood-fake-data") + [str(root), "-k", "1", "--quiet"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "wrote 4,905 images" in r.stdout and f"clipood-data-check --root {root}" in r.stdout
    return root


# counted by hand: K = T = 1 image per class and split; OOD: 1 per MOS concept; DTD: 1 per class in each of 3 splits;
# near-OOD: 1 per class (NINCO 64, SSB-hard 980, ImageNet-O 200) + NINCO's 2 decoys; in all 3,659 + 1,246 = 4,905 images
PAPER_EXPECTED = {("imagenet", "train"): (1000, 1000), ("imagenet", "test"): (1000, 1000),
                  ("caltech101", "train"): (100, 100), ("caltech101", "test"): (100, 100),
                  ("oxford_pets", "train"): (37, 37), ("oxford_pets", "test"): (37, 37),
                  ("food101", "train"): (101, 101), ("food101", "test"): (101, 101),
                  ("stanford_cars", "train"): (196, 196), ("stanford_cars", "test"): (196, 196),
                  ("inaturalist", "test"): (110, 1), ("sun", "test"): (50, 1), ("places", "test"): (50, 1),
                  ("texture", "test"): (141, 47),
                  ("ninco", "test"): (64, 64), ("ssb_hard", "test"): (980, 980), ("imagenet_o", "test"): (200, 200)}


def test_fake_data_covers_the_paper_grid():
    import yaml
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "paper.yaml").read_text())
    grid = ({d for g in cfg["grid"] for d in g["dataset"]} | set(cfg["params"]["ood_datasets"])
            | {o for g in cfg["grid"] for oods in g.get("ood_datasets", []) for o in oods})
    assert {n for n, _ in PAPER_EXPECTED} == grid


@pytest.mark.parametrize("name,split", list(PAPER_EXPECTED))
def test_fake_data_loads_with_real_class_counts(paper_fake, name, split):
    ds = get_dataset(name, split, root=paper_fake)
    assert (len(ds), len(ds.classnames)) == PAPER_EXPECTED[(name, split)]
    assert set(ds.targets) == set(range(len(ds.classnames)))  # every class present
    img, y = ds[len(ds) // 2]
    assert img.mode == "RGB" and y == ds.targets[len(ds) // 2]
    sizes = []
    for p in ds.paths:
        with Image.open(p) as im:
            assert im.format == "JPEG"
            sizes.append(im.size)
    w, h = np.array(sizes).T
    assert len(set(sizes)) >= 3, set(sizes)                     # varied ...
    assert w.max() >= 300 and np.minimum(w, h).min() >= 150     # ... natural photo sizes, not thumbnails
    assert (w != h).mean() > 0.5                                 # mostly not square


def test_fake_data_read_by_torchvision(paper_fake):
    "torchvision's own dataset classes read the same layouts (an independent reader)"
    import torchvision.datasets as tvd
    assert (len(tvd.ImageFolder(paper_fake / "imagenet" / "val").classes), len(tvd.ImageFolder(paper_fake / "imagenet" / "train"))) == (1000, 1000)
    cal = tvd.Caltech101(paper_fake)
    assert (len(cal.categories), len(cal)) == (101, 101 * 3)   # 102 folders minus BACKGROUND_Google; train + val + test
    assert [(len(d), len(d.classes)) for d in (tvd.OxfordIIITPet(paper_fake, split=s) for s in ("trainval", "test"))] == [(74, 37), (37, 37)]
    assert [(len(d), len(d.classes)) for d in (tvd.Food101(paper_fake, split=s) for s in ("train", "test"))] == [(202, 101), (101, 101)]
    assert [(len(d), len(d.classes)) for d in (tvd.StanfordCars(paper_fake, split=s) for s in ("train", "test"))] == [(392, 196), (196, 196)]
    assert all((len(d), len(d.classes)) == (47, 47) for d in (tvd.DTD(paper_fake, split=s, partition=p) for p in (1, 10) for s in ("train", "val", "test")))
    assert [len(tvd.ImageFolder(paper_fake / f)) for f in ("iNaturalist", "SUN", "Places")] == [110, 50, 50]
    near = [tvd.ImageFolder(paper_fake / f) for f in ("NINCO/NINCO_OOD_classes", "images_largescale/ssb_hard", "imagenet-o")]
    assert [(len(d), len(d.classes)) for d in near] == [(64, 64), (980, 980), (200, 200)]
    listed = (paper_fake / "benchmark_imglist" / "imagenet" / "test_ssb_hard.txt").read_text().split("\n")
    assert sorted(str(paper_fake / "images_largescale" / l.split()[0]) for l in listed if l) == sorted(p for p, _ in near[1].samples)


def test_fake_data_check_reports_every_dataset(paper_fake):
    df = data_check(paper_fake, names=[n for n, _ in PAPER_EXPECTED])
    assert {(r.dataset, r.split): (r.images, r.classes) for r in df.itertuples()} == PAPER_EXPECTED
    assert set(df.status) == {"ok", "partial"}  # partial: fewer images than the complete dataset (e.g. ImageNet's 50,000)
    r = subprocess.run(_script("clipood-data-check") + ["--root", str(paper_fake), "--verify"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    names = {n for n, _ in PAPER_EXPECTED}
    status = {(l.split()[0], l.split()[2]): l.split()[3] for l in r.stdout.splitlines()[2:] if l.split()[:1] and l.split()[0] in names}
    assert status.keys() == PAPER_EXPECTED.keys() and set(status.values()) <= {"ok", "partial"}, status
    assert "corrupt" not in r.stdout


def test_fake_data_refuses_bad_roots(paper_fake, tmp_path):
    fake_data = _script("clipood-fake-data")
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "real" / "imagenet").mkdir(parents=True)
    for root, msg in ((tmp_path / "file.txt", "is a file, not a folder"),
                      (tmp_path / "real", "is not empty (it holds imagenet) and has no clipood-fake-data.json"),
                      (paper_fake, "already holds a fake data root")):
        r = subprocess.run(fake_data + [str(root), "--names", "sun", "--quiet"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and f"clipood-fake-data: error: ROOT {root}" in r.stderr and msg in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert [p.name for p in (tmp_path / "real").iterdir()] == ["imagenet"] and (tmp_path / "file.txt").read_text() == "x"
    r = subprocess.run(fake_data + [str(tmp_path / "new"), "-k", "0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "images_per_class must be an integer >= 1, got 0" in r.stderr and not (tmp_path / "new").exists()
