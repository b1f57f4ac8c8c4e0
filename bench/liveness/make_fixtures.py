#!/usr/bin/python3
"""Writes the liveness test fixtures (tests/FaceNet.Tests/data/liveness/) from Minivision's reference code.

  make_fixtures.py --reference SRC --models DIR --detector DIR --out tests/FaceNet.Tests/data/liveness PHOTO...

Run once with Debian's python3-torch and python3-opencv; the tests only read what it wrote:
- crops/*.png: 80x80 patches exactly as the reference cuts them (its detector's box, its patch rule, cv2.resize),
  each distinct patch once, and reference.json: both reference PyTorch networks' softmax on each, and per photo its
  box, patches and score;
- crop_rule.json: the reference's patch rule on boxes at and beyond the photo's edges, and patches cut at the
  edges of the first photo (given as a PNG, so that every decoder reads the same pixels; crops/edge*.png);
- tiny_v2.pth (legacy torch.save, names under 'module.') and tiny_v1se.pth (zip format): MiniFASNetV2 and V1SE with
  random weights and narrow layers, and tiny.json: their softmax on the crops, to test the importer on both variants.
"""
import argparse, json, os, shutil, sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_pipeline import Reference  # noqa: E402


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype != torch.float32:
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 1.5 + 0.25)
            elif name.endswith("running_mean") or name.endswith("bn.bias") or name.endswith("bn1.bias") or name.endswith("bn2.bias"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif "prelu" in name:
                t.copy_(torch.rand(t.shape, generator=g) * 0.3)
            elif name.endswith(".weight") and t.dim() == 1:  # BatchNorm gamma
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.75)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * (1.0 / fan_in) ** 0.5)
    model.eval()
    return model


def tiny(defs, se, seed):
    keep = [max(2, v // 8) for v in defs.keep_dict["1.8M" if se else "1.8M_"]]
    keep[47] = keep[48] = 512  # the head's Linear takes 512 features
    cls = defs.MiniFASNetSE if se else defs.MiniFASNet
    model = cls(keep, embedding_size=32, conv6_kernel=(5, 5), drop_p=0.0, num_classes=3, img_channel=3)
    return randomize(model, seed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--detector", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("photos", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ref = Reference(args.reference, args.models, args.detector)
    os.makedirs(os.path.join(args.out, "crops"), exist_ok=True)

    photos, crops, seen = [], [], {}
    names = ["minifasnet-v2", "minifasnet-v1se"]

    def add_crop(file, crop):
        """Each distinct patch once, with both reference networks' softmax on it."""
        key = crop.tobytes()
        if key in seen:
            return seen[key]
        cv2.imwrite(os.path.join(args.out, "crops", file), crop)
        crops.append({"crop": file, "probs": {n: [float(v) for v in ref.probs(m, crop)] for n, (m, _) in zip(names, ref.models)}})
        seen[key] = file
        return file

    for path in args.photos:
        name = os.path.splitext(os.path.basename(path))[0]
        img = cv2.imread(path)
        r = ref.run(img)
        entry = {"photo": os.path.basename(path), "width": img.shape[1], "height": img.shape[0], "box": r["box"],
                 "confidence": r["confidence"], "label": r["label"], "score": r["score"], "patches": []}
        for (model, scale), m in zip(ref.models, r["models"]):
            crop, rect = ref.crop(img, r["box"], scale)
            file = add_crop(f"{name}_{scale}.png", crop)
            entry["patches"].append({"scale": scale, "patch": rect, "crop": file, "probs": m["probs"]})
        photos.append(entry)

    # two patterns no camera gives, for the numerics: noise and a flat grey
    rng = np.random.default_rng(26)
    add_crop("noise.png", rng.integers(0, 256, (80, 80, 3), dtype=np.uint8))
    add_crop("grey.png", np.full((80, 80, 3), 128, np.uint8))

    # the patch rule at and beyond the edges
    cases = []
    sizes = [(480, 640), (640, 480), (250, 250), (92, 112), (100, 60)]
    boxes = lambda w, h: [[0, 0, w // 4, h // 4], [w - w // 5, h - h // 5, w // 5, h // 5], [-20, -30, w // 3, h // 3],
                          [w // 2, h // 2, w, h], [w // 3, h // 3, w // 3, h // 3], [1, h // 2, w // 2, h // 6],
                          [w - 3, 2, 40, 60], [0, 0, w, h], [5, 5, w - 10, h - 10]]
    for w, h in sizes:
        for b in boxes(w, h):
            for scale in (2.7, 4.0, 1.0):
                cases.append({"width": w, "height": h, "box": b, "scale": scale, "patch": list(ref.patch(w, h, b, scale))})
    edge = cv2.imread(args.photos[0])
    h, w = edge.shape[:2]
    edge_crops = []
    for i, b in enumerate([[0, 0, 60, 70], [w - 50, h - 80, 50, 80], [w - 200, 10, 150, 160], [-15, h // 3, 90, 100]]):
        for scale in (2.7, 4.0):
            crop, rect = ref.crop(edge, b, scale)
            edge_crops.append({"box": b, "scale": scale, "patch": rect, "crop": add_crop(f"edge{i}_{scale}.png", crop)})
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({"photos": photos, "crops": crops}, f, indent=1)
    with open(os.path.join(args.out, "crop_rule.json"), "w") as f:
        json.dump({"cases": cases, "photo": os.path.basename(args.photos[0]), "crops": edge_crops}, f, indent=1)

    # tiny random networks of both variants, in both torch.save formats
    v2, v1se = tiny(ref.defs, False, 1), tiny(ref.defs, True, 2)
    torch.save({"module." + k: v for k, v in v2.state_dict().items()}, os.path.join(args.out, "tiny_2.7_80x80_MiniFASNetV2.pth"),
               _use_new_zipfile_serialization=False)
    torch.save(v1se.state_dict(), os.path.join(args.out, "tiny_4_0_0_80x80_MiniFASNetV1SE.pth"))
    outputs = []
    for c in [c["crop"] for c in crops][:4]:
        img = cv2.imread(os.path.join(args.out, "crops", c))
        for mname, model in [("v2", v2), ("v1se", v1se)]:
            x = torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32)).unsqueeze(0)
            with torch.no_grad():
                p = F.softmax(model(x), dim=1)[0].double().numpy()
            outputs.append({"crop": c, "model": mname, "probs": [float(v) for v in p]})
    with open(os.path.join(args.out, "tiny.json"), "w") as f:
        json.dump(outputs, f, indent=1)


if __name__ == "__main__":
    main()
