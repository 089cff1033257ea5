"The calibration frontier of the downstream benchmark: the zero-shot signature of the shipped tiny CLIPs when the\ndownstream blur changes, and per medium (blur 1). Usage: python benchmarks/downstream_frontier.py [0,1,2]"
import numpy as np, torch, torch.nn.functional as F, sys
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
import clipood.synthetic as S
from clipood.checkpoints import load_synthetic
from clipood.pretrain import image_embeddings
from clipood.text import class_prototypes
torch.set_num_threads(2)
def au(i, o): return roc_auc_score(np.r_[np.ones(len(i)), np.zeros(len(o))], np.r_[i, o])
def sig(clip, style, media=tuple(S.MEDIA), tag=""):
    g = lambda name, split: S.generate(S.BENCHMARK[name, split][2] * len(S.BENCHMARK[name, split][1]), 0, f"{name}/{split}", style=style,
            classes=S.BENCHMARK[name, split][1], kind=S.BENCHMARK[name, split][0])
    old = S.sample_factors.__defaults__
    d = {k: g(*k) for k in S.BENCHMARK}
    f = {k: image_embeddings(clip.model, v[0]) for k, v in d.items()}
    med = {k: np.array([x["medium"] for x in v[1]]) for k, v in d.items()}
    keep = {k: np.isin(med[k], media) for k in d}
    P = class_prototypes(clip.model, clip.tokenizer, S.ID_SHAPES, ["a photo of a {}."]).float()
    s = {k: (f[k] @ P.T).numpy()[keep[k]] for k in d}
    ytr = (np.arange(len(d["synthetic", "train"][0])) % 24)[keep["synthetic", "train"]]
    y = (np.arange(len(d["synthetic", "test"][0])) % 24)[keep["synthetic", "test"]]
    probe = LogisticRegression(C=10, max_iter=3000).fit(f["synthetic", "train"].numpy()[keep["synthetic", "train"]], ytr).score(f["synthetic", "test"].numpy()[keep["synthetic", "test"]], y)
    zs = (s["synthetic", "test"].argmax(1) == y).mean()
    ms = lambda x: x.max(1)
    mcm = lambda x, t=1: torch.softmax(torch.tensor(x) / t, 1).max(1).values.numpy()
    sc = float(clip.model.logit_scale.exp())
    r = {}
    for nm, fn in [("MS", ms), ("MSP", lambda x: mcm(x, 1 / sc)), ("MCM1", mcm), ("MCM.1", lambda x: mcm(x, .1))]:
        i = fn(s["synthetic", "test"]); a = [au(i, fn(s[k, "test"])) for k in ("synthetic-near", "synthetic-far")]
        r[nm] = (100 * np.mean(a), 100 * a[0], 100 * a[1])
    print(f"{tag:28s} zs {100*zs:.1f} probe {100*probe:.1f} gap {100*(probe-zs):.1f} | " + " ".join(f"{k} {v[0]:.1f} ({v[1]:.1f}/{v[2]:.1f})" for k, v in r.items()), flush=True)
seeds = [int(x) for x in (sys.argv[1] if len(sys.argv) > 1 else "0,1,2").split(",")]
for sd in seeds:
    clip = load_synthetic("clipood-tiny", seed=sd)
    for b in [1.0, 1.5, 1.75, 2.0]:
        sig(clip, S.Style(blur=b), tag=f"s{sd} blur {b}")
    for md in S.MEDIA:
        sig(clip, S.Style(blur=1.0), media=(md,), tag=f"s{sd} blur 1 only {md}")
