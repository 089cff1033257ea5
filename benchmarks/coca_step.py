"""Seconds per pretraining step of the tiny CoCa (contrastive + captioning loss) against the tiny CLIP ViT, batch 128.

Why CoCa is not pretrained offline (nbs/06_pretrain.ipynb, "One objective per model family"): its decoder predicts every
caption token over CLIP's 49,408-token vocabulary. The CoCa config's context is cut to 32 tokens here (the synthetic
captions have at most 19), which only makes CoCa cheaper. Prints the ratio measured in one run.

    .venv/bin/python benchmarks/coca_step.py [--steps 3] [--threads 1]
"""
import argparse
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    import open_clip
    import torch
    import clipood.models
    from clipood.pretrain import clip_objective, to_tensor
    from clipood.synthetic import pretrain_batch
    torch.set_num_threads(a.threads)
    cfg = dict(open_clip.get_model_config("clipood-tiny-coca")); cfg.pop("custom_text", None)
    cfg["text_cfg"] = dict(cfg["text_cfg"], context_length=32); cfg["multimodal_cfg"] = dict(cfg["multimodal_cfg"], context_length=32)
    from open_clip.loss import CoCaLoss
    def coca_loss(m, x, ids):
        out = m(x, ids)
        c, cap = CoCaLoss(caption_loss_weight=2.0, clip_loss_weight=1.0, pad_id=0)(
            out["image_features"], out["text_features"], out["logits"], out["labels"], out["logit_scale"])
        return c + cap
    ims, caps = pretrain_batch(0, 128, 0)
    x = to_tensor(ims)
    res = {}
    for name, model, tok, loss in (("clipood-tiny-vit (CLIP)", open_clip.create_model("clipood-tiny-vit"), clipood.models.get_tokenizer("clipood-tiny-vit"), clip_objective),
                                   ("clipood-tiny-coca (context 32)", open_clip.CoCa(**cfg), open_clip.SimpleTokenizer(context_length=32), coca_loss)):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        ids, times = tok(caps), []
        for _ in range(a.steps):
            t = time.time(); l = loss(model, x, ids); opt.zero_grad(); l.backward(); opt.step(); times.append(time.time() - t)
        res[name] = min(times)
        print(f"{name}: {min(times):.2f} s per step of 128 pairs (best of {a.steps}, {a.threads} thread(s))", flush=True)
    c, v = res["clipood-tiny-coca (context 32)"], res["clipood-tiny-vit (CLIP)"]
    print(f"CoCa / CLIP step time: {c / v:.0f}x; the 2,500-step recipe would take {2500 * c / 3600:.1f} h for CoCa")


if __name__ == "__main__": main()
