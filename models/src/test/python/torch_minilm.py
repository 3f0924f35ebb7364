"""The reference beside bench.MiniLmShapeBenchmark on a GPU machine: the same random-weight MiniLM-shaped folder and
token ids through transformers' BertModel on CUDA, fp32 with TF32 off and fp16; sentences/s and max |diff| of the
mean-pooled, normalised embeddings against the engine's. Usage: python3 torch_minilm.py DIR BATCH SEQ BATCHES"""
import sys, time, numpy as np, torch
from transformers import BertModel
d, batch, seq, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ids = torch.from_numpy(np.fromfile(f"{d}/ids.bin", dtype="<i4").reshape(batch, seq).astype(np.int64)).cuda()
mask = torch.from_numpy(np.fromfile(f"{d}/mask.bin", dtype="<i4").reshape(batch, seq).astype(np.int64)).cuda()
engine = np.fromfile(f"{d}/engine_embeddings.bin", dtype="<f4").reshape(batch, -1)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
print("torch", torch.__version__, torch.cuda.get_device_name(0))
for label, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
    model = BertModel.from_pretrained(d, add_pooling_layer=False, torch_dtype=dtype).cuda().eval()
    def embed():
        with torch.no_grad():
            h = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state.float()
            m = mask.unsqueeze(-1).float()
            v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, dim=-1)
    ref = embed().cpu().numpy()
    torch.cuda.synchronize(); t0 = time.perf_counter()
    for _ in range(batches): embed()
    torch.cuda.synchronize(); s = time.perf_counter() - t0
    print(f"torch {label}: batch {batch}, padded to {seq}: {batch * batches / s:.1f} sentences/s, {s / batches * 1e3:.2f} ms a batch; "
          f"max |engine - torch| {np.abs(engine - ref).max():.3g}, min cosine {(engine * ref).sum(1).min():.7f}")
