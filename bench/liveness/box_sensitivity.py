#!/usr/bin/python3
"""How much the reference pipeline's own score moves when its box moves as little as our mapped boxes differ from it
(the median residual of the map: ~3 % in size, ~1.5 % of the height in the centre): the noise floor of any parity test.

  box_sensitivity.py --reference SRC --models DIR --detector DIR [--limit N] PHOTO_OR_DIR...
"""
import argparse, json, os, sys
import cv2, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_pipeline import Reference, photos  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--reference", required=True); ap.add_argument("--models", required=True); ap.add_argument("--detector", required=True)
ap.add_argument("--limit", type=int, default=0); ap.add_argument("paths", nargs="+")
a = ap.parse_args()
ref = Reference(a.reference, a.models, a.detector)
rng = np.random.default_rng(26)
d, agree = [], 0
files = list(photos(a.paths))
if a.limit: files = files[:a.limit]
for f in files:
    img = cv2.imread(f)
    box, conf = ref.box(img)
    if box is None or conf < 0.6: continue
    x, y, w, h = box
    sw, sh = 1 + rng.choice([-1, 1]) * 0.03, 1 + rng.choice([-1, 1]) * 0.03
    cx, cy = x + w / 2 + rng.choice([-1, 1]) * 0.015 * w, y + h / 2 + rng.choice([-1, 1]) * 0.015 * h
    moved = [cx - w * sw / 2, cy - h * sh / 2, w * sw, h * sh]
    s0 = np.mean([ref.probs(m, ref.crop(img, box, s)[0])[1] for m, s in ref.models])
    s1 = np.mean([ref.probs(m, ref.crop(img, moved, s)[0])[1] for m, s in ref.models])
    d.append(abs(s1 - s0)); agree += (s0 >= 0.5) == (s1 >= 0.5)
d = np.array(d)
print(json.dumps({"photos": len(d), "median_abs": round(float(np.median(d)), 4), "p90_abs": round(float(np.percentile(d, 90)), 4),
                  "verdict_agreement": round(agree / len(d), 4)}))
