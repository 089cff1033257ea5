import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Tests never touch the network: pretrained tags must come from local caches.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
