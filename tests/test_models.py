"Extra tests for clipood.models (the notebook nbs/02_models.ipynb holds the main examples/tests)."
import os
import sys
import time
import types
from pathlib import Path

import open_clip
import pytest
import torch
import torch.nn.functional as F

torch.set_num_threads(min(2, torch.get_num_threads()))

from clipood import models as M
from clipood.models import LoadedCLIP, PretrainedNotFoundError, file_hash, load_clip
from clipood.text import class_prototypes, encode_from_embeddings, encode_text, eot_positions

TEXTS = ["a photo of a dog.", "x", "a photo of a very small red star on a striped background, seen from above."]


@pytest.fixture(scope="module")
def tiny():
    return load_clip("clipood-tiny", seed=3)


def _invariant(model, tokenizer, atol=1e-5):
    ids = tokenizer(TEXTS)
    with torch.no_grad():
        ref = model.encode_text(ids)
        for trunc in (True, False):
            out = encode_from_embeddings(model, model.token_embedding(ids) if hasattr(model, "token_embedding")
                                         else model.text.token_embedding(ids), ids, truncate=trunc)
            assert (out - ref).abs().max() <= atol * max(1.0, ref.abs().max().item())


def test_tiny_vit_invariant():
    clip = load_clip("clipood-tiny-vit", seed=1)
    _invariant(clip.model, clip.tokenizer)
    assert clip.model_id == "clipood-tiny-vit@random-s1"


def test_custom_text_clip_invariant():
    "CustomTextCLIP keeps its text tower under .text; encode_from_embeddings reads the parts from there"
    torch.manual_seed(0)
    model = open_clip.create_model("clipood-tiny", force_custom_text=True).eval()
    assert isinstance(model, open_clip.CustomTextCLIP)
    _invariant(model, open_clip.get_tokenizer("clipood-tiny"))


def test_truncation_shortens_the_sequence(tiny):
    "With truncate=True the transformer sees max EOT + 1 positions; without, the full context"
    seen = []
    h = tiny.model.transformer.register_forward_pre_hook(lambda m, args, kw: seen.append(args[0].shape[1]),
                                                        with_kwargs=True)
    try:
        ids = tiny.tokenizer(["a photo of a dog.", "a cat"])
        with torch.no_grad():
            encode_text(tiny, ids, truncate=True)
            encode_text(tiny, ids, truncate=False)
    finally:
        h.remove()
    assert seen == [int(eot_positions(ids).max()) + 1, 77]
    assert eot_positions(ids).tolist() == [7, 3]  # SOT a photo of a dog . EOT / SOT a cat EOT


def test_gradients_flow_to_embeddings(tiny):
    "CoOp learns context vectors: gradients must reach the embeddings, not the frozen ids"
    ids = tiny.tokenizer(["a photo of a dog."])
    emb = tiny.model.token_embedding(ids).detach().requires_grad_(True)
    encode_from_embeddings(tiny, emb, ids).sum().backward()
    assert emb.grad is not None
    eot = int(eot_positions(ids)[0])
    assert emb.grad[0, : eot + 1].abs().sum() > 0
    assert emb.grad[0, eot + 1:].abs().sum() == 0  # nothing after EOT influences the output


def test_class_prototypes_batching_and_callables(tiny):
    names = [f"class {i}" for i in range(7)]
    tmpls = ["a photo of a {}.", lambda c: f"itap of a {c}."]
    a = class_prototypes(tiny, tiny.tokenizer, names, tmpls, batch_size=3)
    b = class_prototypes(tiny.model, tiny.tokenizer, names, tmpls, batch_size=1000)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    # independent computation: per prompt, full 77 tokens, plain open_clip
    with torch.no_grad():
        f = F.normalize(tiny.model.encode_text(tiny.tokenizer([t.format(n) if isinstance(t, str) else t(n)
                                                               for n in names for t in tmpls])), dim=-1)
    ref = F.normalize(f.view(7, 2, -1).mean(1), dim=-1)
    torch.testing.assert_close(a, ref, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="at least one class"):
        class_prototypes(tiny, tiny.tokenizer, [], tmpls)


def test_bf16_on_cpu():
    clip = load_clip("clipood-tiny", precision="bf16")
    with torch.no_grad():
        f = encode_text(clip, clip.tokenizer(["a dog"]))
    assert f.shape == (1, 128)


def test_offline_tag_fails_fast_without_env(tmp_path, monkeypatch):
    "The probe path (no HF_HUB_OFFLINE): on a machine without hub access this must fail within 15 s"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(k, raising=False)
    if M.hub_reachable():
        pytest.skip("the Hugging Face hub is reachable here; the offline path cannot be tested")
    t0 = time.time()
    with pytest.raises(PretrainedNotFoundError, match="not reachable") as e:
        load_clip("ViT-B-16", "openai", hub_cache_dir=str(tmp_path))
    assert time.time() - t0 < 15
    assert "models--timm--vit_base_patch16_clip_224.openai" in str(e.value)
    assert isinstance(e.value, FileNotFoundError)


def _fake_hf_cache(root: Path, repo_id: str, filename: str, payload_path: Path):
    "Lay out a Hugging Face hub cache entry (refs/main -> snapshot) holding payload_path's bytes"
    repo = root / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / filename).write_bytes(payload_path.read_bytes())


def test_cached_tag_loads_without_network(tmp_path, monkeypatch):
    "A tag whose file is in the HF cache loads from disk (offline), with the tag's QuickGELU and preprocessing"
    src = load_clip("clipood-tiny", seed=5)
    sd = {k: v for k, v in src.model.state_dict().items()}
    ckpt = tmp_path / "w.bin"
    torch.save(sd, ckpt)
    from open_clip.pretrained import _PRETRAINED, _pcfg
    monkeypatch.setitem(_PRETRAINED, "clipood-tiny",
                        {"faketag": _pcfg(hf_hub="clipood/fake-tiny/", quick_gelu=True,
                                          mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))})
    cache = tmp_path / "hub"
    _fake_hf_cache(cache, "clipood/fake-tiny", "open_clip_pytorch_model.bin", ckpt)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    clip = load_clip("clipood-tiny", "faketag", hub_cache_dir=str(cache))
    assert clip.model_id == "clipood-tiny@faketag"
    assert torch.equal(clip.model.text_projection, src.model.text_projection)
    acts = [m for m in clip.model.modules() if isinstance(m, open_clip.transformer.QuickGELU)]
    assert acts, "QuickGELU tag must build a QuickGELU model"
    assert "mean=(0.5, 0.5, 0.5)" in repr(clip.preprocess)
    # the same file passed as a path, with tag= for the settings
    clip2 = load_clip("clipood-tiny", str(ckpt), tag="faketag")
    assert clip2.model_id == f"clipood-tiny@file-{file_hash(ckpt)}-as-faketag"
    assert any(isinstance(m, open_clip.transformer.QuickGELU) for m in clip2.model.modules())


def test_argument_errors():
    with pytest.raises(ValueError, match="close names"):
        load_clip("ViT-B16")
    with pytest.raises(ValueError, match="CUDA"):
        load_clip("clipood-tiny", precision="fp16")
    with pytest.raises(ValueError, match="does not exist"):
        load_clip("clipood-tiny", "/nonexistent/w.pt")
    with pytest.raises(ValueError, match="not an open_clip pretrained tag"):
        load_clip("clipood-tiny", __file__, tag="openai")
