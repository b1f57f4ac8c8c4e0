#!/usr/bin/python3
"""The box mapping's effect on the score: the reference networks on patches cut around the reference detector's box,
around our detector's box as it is, and around our box mapped (LivenessBoxMap). Parity is measured against the first.

  mapping_effect.py --reference SRC --models DIR --detector DIR DETECTIONS.jsonl [--limit N] [--map sx sy sw sh]

DETECTIONS.jsonl is `facenet detect --json -d yunet PHOTOS` output; each photo's face nearest the reference box is used.
"""
import argparse, json, os, sys
import cv2, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_pipeline import Reference  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--reference", required=True); ap.add_argument("--models", required=True); ap.add_argument("--detector", required=True)
ap.add_argument("--limit", type=int, default=0); ap.add_argument("--map", type=float, nargs=4, default=[-0.0100, 0.0571, 1.1382, 0.8880])
ap.add_argument("detections")
a = ap.parse_args()
ref = Reference(a.reference, a.models, a.detector)

def iou(p, q):
    iw = max(0, min(p[0]+p[2], q[0]+q[2]) - max(p[0], q[0])); ih = max(0, min(p[1]+p[3], q[1]+q[3]) - max(p[1], q[1]))
    u = p[2]*p[3] + q[2]*q[3] - iw*ih
    return iw*ih/u if u > 0 else 0

def score(img, box):
    return float(np.mean([ref.probs(m, ref.crop(img, box, s)[0])[1] for m, s in ref.models]))

sx, sy, sw, sh = a.map
rows = [json.loads(l) for l in open(a.detections)]
if a.limit: rows = rows[:a.limit]
d_raw, d_map, agree_raw, agree_map, n = [], [], 0, 0, 0
for r in rows:
    if not r["faces"]: continue
    img = cv2.imread(r["file"])
    rb, conf = ref.box(img)
    if rb is None or conf < 0.6: continue
    f = max(r["faces"], key=lambda f: iou(f["box"], rb))
    if iou(f["box"], rb) < 0.3: continue
    x, y, w, h = f["box"]
    cx, cy, mw, mh = x + w*(0.5+sx), y + h*(0.5+sy), w*sw, h*sh
    s_ref, s_raw, s_map = score(img, rb), score(img, [x, y, w, h]), score(img, [cx-mw/2, cy-mh/2, mw, mh])
    d_raw.append(abs(s_raw-s_ref)); d_map.append(abs(s_map-s_ref)); n += 1
    agree_raw += (s_raw >= 0.5) == (s_ref >= 0.5); agree_map += (s_map >= 0.5) == (s_ref >= 0.5)
d_raw, d_map = np.array(d_raw), np.array(d_map)
print(json.dumps({"photos": n, "raw_median_abs": round(float(np.median(d_raw)), 4), "raw_p90_abs": round(float(np.percentile(d_raw, 90)), 4),
                  "raw_verdict_agreement": round(agree_raw/n, 4), "mapped_median_abs": round(float(np.median(d_map)), 4),
                  "mapped_p90_abs": round(float(np.percentile(d_map, 90)), 4), "mapped_verdict_agreement": round(agree_map/n, 4)}))
