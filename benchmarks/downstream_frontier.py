"""The calibration frontier of the downstream benchmark: the zero-shot signature of the shipped tiny CLIPs when the
downstream blur changes, and per medium (at the default blur). Usage: python benchmarks/downstream_frontier.py [0,1,2]"""
import sys
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
import clipood.synthetic as S
from clipood.checkpoints import load_synthetic
from clipood.metrics import ood_metrics
from clipood.pretrain import image_embeddings
from clipood.scores import compute
from clipood.text import class_prototypes

def features(clip, style):
    "Per benchmark split: (image features, class labels, media) rendered with `style`"
    out = {}
    for (name, split), (kind, classes, per) in S.BENCHMARK.items():
        ims, fs, _ = S.generate(per * len(classes), 0, f"{name}/{split}", style=style, classes=classes, kind=kind)
        out[name, split] = (image_embeddings(clip.model, ims).numpy(), np.arange(len(ims)) % len(classes),
                            np.array([f["medium"] for f in fs]))
    return out

def signature(clip, feats, media=tuple(S.MEDIA)):
    "Zero-shot and probe accuracy, AUROC (mean, near, far) of MS / MSP / MCM(1) / MCM(0.1) on the images of `media`"
    protos = class_prototypes(clip.model, clip.tokenizer, S.ID_SHAPES, ["a photo of a {}."]).float().numpy()
    sub = {k: (f[np.isin(m, media)], y[np.isin(m, media)]) for k, (f, y, m) in feats.items()}
    sims = {k: f @ protos.T for k, (f, _) in sub.items()}
    (ftr, ytr), (fte, yte) = sub["synthetic", "train"], sub["synthetic", "test"]
    probe = LogisticRegression(C=10, max_iter=3000).fit(ftr, ytr).score(fte, yte)
    zs = (sims["synthetic", "test"].argmax(1) == yte).mean()
    scale = float(clip.model.logit_scale.detach().exp())
    res = {}
    for lab, name, kw in [("MS", "ms", {}), ("MSP", "msp", dict(logit_scale=scale)), ("MCM1", "mcm", dict(temperature=1.0)),
                          ("MCM.1", "mcm", dict(temperature=0.1))]:
        s_id = compute(name, sims["synthetic", "test"], **kw)
        a = [ood_metrics(s_id, compute(name, sims[o, "test"], **kw))["auroc"] for o in ("synthetic-near", "synthetic-far")]
        res[lab] = (100 * np.mean(a), 100 * a[0], 100 * a[1])
    return zs, probe, res

def line(tag, zs, probe, res):
    return (f"{tag:28s} zs {100*zs:.1f} probe {100*probe:.1f} gap {100*(probe-zs):.1f} | "
            + " ".join(f"{k} {v[0]:.1f} ({v[1]:.1f}/{v[2]:.1f})" for k, v in res.items()))

if __name__ == "__main__":
    torch.set_num_threads(2)
    for sd in [int(x) for x in (sys.argv[1] if len(sys.argv) > 1 else "0,1,2").split(",")]:
        clip = load_synthetic("clipood-tiny", seed=sd)
        for b in [S.DOWNSTREAM_STYLE.blur, 1.5, 1.75, 2.0]:
            feats = features(clip, S.Style(blur=b))
            print(line(f"s{sd} blur {b}", *signature(clip, feats)), flush=True)
            if b == S.DOWNSTREAM_STYLE.blur:  # the same features, one medium at a time
                for md in S.MEDIA: print(line(f"s{sd} blur {b} only {md}", *signature(clip, feats, (md,))), flush=True)
