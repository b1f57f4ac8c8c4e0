#!/usr/bin/python3
"""Minivision's Silent-Face-Anti-Spoofing pipeline as its repository runs it, for measurements and fixtures.

Runs with Debian's python3-torch and python3-opencv (/usr/bin/python3). Nothing in the build or the tests
needs it: it produced the committed fixtures (make_fixtures.py) and the figures in the liveness notes.

  reference_pipeline.py --reference SRC --models DIR --detector DIR score [--out FILE.jsonl] PHOTO_OR_DIR...

SRC is the folder holding the repository's MiniFASNet.py (the model definitions are imported from it, not
copied); DIR holds 2.7_80x80_MiniFASNetV2.pth and 4_0_0_80x80_MiniFASNetV1SE.pth; the detector folder holds
deploy.prototxt and Widerface-RetinaFace.caffemodel. One JSON line per photo: the detector's box and
confidence, each model's patch and softmax, the summed verdict (argmax) and the combined live score.
"""
import argparse, importlib.util, json, math, os, sys, time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

MODELS = [("2.7_80x80_MiniFASNetV2.pth", "MiniFASNetV2", 2.7), ("4_0_0_80x80_MiniFASNetV1SE.pth", "MiniFASNetV1SE", 4.0)]
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".pgm", ".bmp")


def load_definitions(src):
    spec = importlib.util.spec_from_file_location("reference_minifasnet", os.path.join(src, "MiniFASNet.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_model(defs, path, kind, size=80):
    kernel = ((size + 15) // 16, (size + 15) // 16)
    model = getattr(defs, kind)(conv6_kernel=kernel)
    state = torch.load(path, map_location="cpu")
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    model.load_state_dict(state)
    model.eval()
    return model


class Reference:
    def __init__(self, src, models, detector):
        self.defs = load_definitions(src)
        self.models = [(load_model(self.defs, os.path.join(models, f), kind), scale) for f, kind, scale in MODELS]
        self.net = cv2.dnn.readNetFromCaffe(os.path.join(detector, "deploy.prototxt"),
                                            os.path.join(detector, "Widerface-RetinaFace.caffemodel"))

    def box(self, img):
        """The reference detector's most confident box [x, y, w, h] (ints, as it rounds them) and its confidence."""
        h, w = img.shape[:2]
        small = img
        if w * h >= 192 * 192:
            ar = w / h
            small = cv2.resize(img, (int(192 * math.sqrt(ar)), int(192 / math.sqrt(ar))), interpolation=cv2.INTER_LINEAR)
        self.net.setInput(cv2.dnn.blobFromImage(small, 1, mean=(104, 117, 123)), "data")
        out = self.net.forward("detection_out").reshape(-1, 7)
        if out.shape[0] == 0:
            return None, 0.0
        i = int(np.argmax(out[:, 2]))
        left, top, right, bottom = out[i, 3] * w, out[i, 4] * h, out[i, 5] * w, out[i, 6] * h
        return [int(left), int(top), int(right - left + 1), int(bottom - top + 1)], float(out[i, 2])

    @staticmethod
    def patch(src_w, src_h, bbox, scale):
        """The reference's patch rule (generate_patches.CropImage._get_new_box), restated."""
        x, y, bw, bh = bbox
        scale = min((src_h - 1) / bh, min((src_w - 1) / bw, scale))
        nw, nh = bw * scale, bh * scale
        cx, cy = bw / 2 + x, bh / 2 + y
        l, t, r, b = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
        if l < 0:
            r -= l; l = 0
        if t < 0:
            b -= t; t = 0
        if r > src_w - 1:
            l -= r - src_w + 1; r = src_w - 1
        if b > src_h - 1:
            t -= b - src_h + 1; b = src_h - 1
        return int(l), int(t), int(r), int(b)

    def crop(self, img, bbox, scale, size=80):
        h, w = img.shape[:2]
        l, t, r, b = self.patch(w, h, bbox, scale)
        return cv2.resize(img[t:b + 1, l:r + 1], (size, size)), [l, t, r, b]

    def probs(self, model, crop):
        x = torch.from_numpy(crop.transpose(2, 0, 1).astype(np.float32)).unsqueeze(0)  # BGR, 0-255 as the repository's ToTensor
        with torch.no_grad():
            return F.softmax(model(x), dim=1)[0].double().numpy()

    def run(self, img):
        bbox, conf = self.box(img)
        if bbox is None:
            return {"box": None}
        result = {"box": bbox, "confidence": conf, "models": []}
        total = np.zeros(3)
        for model, scale in self.models:
            crop, rect = self.crop(img, bbox, scale)
            p = self.probs(model, crop)
            total += p
            result["models"].append({"scale": scale, "patch": rect, "probs": [float(v) for v in p]})
        label = int(np.argmax(total))
        result.update(label=label, live=label == 1, score=float(total[1] / 2), verdict_score=float(total[label] / 2))
        return result


def photos(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                for f in sorted(files):
                    if f.lower().endswith(IMAGE_EXT):
                        yield os.path.join(root, f)
        else:
            yield p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--detector", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sc = sub.add_parser("score")
    sc.add_argument("--out")
    sc.add_argument("paths", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ref = Reference(args.reference, args.models, args.detector)
    out = open(args.out, "w") if args.out else sys.stdout
    for f in photos(args.paths):
        img = cv2.imread(f)  # as the reference reads photos: BGR, 8-bit, EXIF orientation applied
        if img is None:
            print(f"error: {f}: not readable", file=sys.stderr)
            continue
        t = time.perf_counter()
        r = ref.run(img)
        r = {"file": f, "width": img.shape[1], "height": img.shape[0], **r, "ms": round((time.perf_counter() - t) * 1000, 2)}
        out.write(json.dumps(r) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
