"""The reference for ClipJobBenchmark's (b): transformers CLIPModel, both towers per image-caption pair, images/s.

Same model folder, same pairs (JSONL: id, image relative to --image-root, caption) and batch size as the engine's
figure; images are preprocessed and captions tokenized before the clock starts (the engine's (b) is the model alone
too), then every batch runs get_image_features and get_text_features, normalises both and takes the cosine.
The last line is ``images_per_s=<rate> ...``, which the Java benchmark reads.

    python3 jobs/src/test/python/clip_reference.py --model DIR --pairs pairs.jsonl --image-root DIR [--batch 32] [--threads N]
"""
import argparse
import json
import os
import time

import torch
import transformers
from PIL import Image
from transformers import CLIPModel, CLIPProcessor


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--image-root", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--torch-device", default="auto", help="auto (cuda if there is one, else cpu), cpu or cuda")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    dev = a.torch_device if a.torch_device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    model = CLIPModel.from_pretrained(a.model, torch_dtype=torch.float32).eval().to(dev)
    proc = CLIPProcessor.from_pretrained(a.model)
    with open(a.pairs, encoding="utf-8") as f:
        pairs = [json.loads(line) for line in f if line.strip()]

    pixels = {}  # each distinct image preprocessed once, cycled as the Java side cycles them
    for p in pairs:
        if p["image"] not in pixels:
            img = Image.open(os.path.join(a.image_root, p["image"])).convert("RGB")
            pixels[p["image"]] = proc(images=img, return_tensors="pt")["pixel_values"][0]
    batches = []
    for start in range(0, len(pairs), a.batch):
        chunk = pairs[start:start + a.batch]
        px = torch.stack([pixels[p["image"]] for p in chunk]).to(dev)
        tok = proc.tokenizer([p["caption"] for p in chunk], padding=True, truncation=True, max_length=77, return_tensors="pt").to(dev)
        batches.append((px, tok))

    def run(bs):
        s = 0.0
        with torch.inference_mode():
            for px, tok in bs:
                img = model.get_image_features(pixel_values=px)
                txt = model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
                img = img / img.norm(dim=-1, keepdim=True)
                txt = txt / txt.norm(dim=-1, keepdim=True)
                s += float((img * txt).sum())  # reads the result back: the device has finished
        return s

    run(batches[:max(1, len(batches) // 5)])  # warm-up
    t0 = time.perf_counter()
    run(batches)
    s = time.perf_counter() - t0
    print(f"images_per_s={len(pairs) / s:.3f} seconds={s:.3f} device={dev} threads={torch.get_num_threads()} "
          f"torch={torch.__version__} transformers={transformers.__version__}", flush=True)


if __name__ == "__main__":
    main()
