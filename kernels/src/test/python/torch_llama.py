"""The reference beside DecoderReferenceRun on a GPU machine: the same random-weight LLaMA folder and prompts through
transformers' LlamaForCausalLM (fp32 with TF32 off, and bf16): prefill tokens/s, and max |diff| of the last-token
log-softmax (T = 1 and T = 2) and top-20 agreement against the engine's. Usage: torch_llama.py DIR PROMPTS LEN"""
import sys, time, numpy as np, torch
from transformers import LlamaForCausalLM
d, prompts, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ids = torch.from_numpy(np.fromfile(f"{d}/ids.bin", dtype="<i4").reshape(prompts, length).astype(np.int64)).cuda()
engine = torch.from_numpy(np.fromfile(f"{d}/engine_last_logits.bin", dtype="<f4").reshape(prompts, -1)).cuda()
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
print("torch", torch.__version__, torch.cuda.get_device_name(0))
for label, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
    model = LlamaForCausalLM.from_pretrained(d, torch_dtype=dtype).cuda().eval()
    with torch.no_grad():
        ref = torch.cat([model(ids[p:p + 1]).logits[:, -1].float() for p in range(prompts)])
        torch.cuda.synchronize(); t0 = time.perf_counter()
        model(ids)  # all prompts in one batch
        torch.cuda.synchronize(); s = time.perf_counter() - t0
    for T in (1.0, 2.0):
        a, b = torch.log_softmax(engine / T, -1), torch.log_softmax(ref / T, -1)
        top_e, top_r = a.topk(20).indices, b.topk(20).indices
        agree = np.mean([len(set(top_e[i].tolist()) & set(top_r[i].tolist())) / 20 for i in range(prompts)])
        print(f"torch {label}: prefill {prompts}x{length} in {s:.3f} s = {prompts * length / s:.0f} tokens/s; T={T}: max |log-prob "
              f"engine - torch| {(a - b).abs().max().item():.3g} (top-20 of torch: {(a - b).gather(1, b.topk(20).indices).abs().max().item():.3g}), "
              f"top-20 overlap {agree:.3f}, top-1 equal {(a.argmax(-1) == b.argmax(-1)).float().mean().item():.2f}")
    del model; torch.cuda.empty_cache()
