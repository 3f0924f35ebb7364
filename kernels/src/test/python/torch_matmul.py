"""The reference beside bench.MatmulBenchmark on a GPU machine: the same shapes (out = a @ b.T, b [n, k]) through
PyTorch, fp32 with TF32 off, TF32 and fp16, GFLOP/s. Usage: python3 torch_matmul.py bert,vit,llama,gpu (gpu: the GPU
check's shapes, MatmulBenchmark's set of that name) or MxNxK"""
import sys, time, torch
SETS = {
    "bert": [(1280, 1152, 384), (1280, 1536, 384), (1280, 384, 1536)],
    "vit": [(12800, 2304, 768), (12800, 3072, 768), (12800, 768, 3072), (12800, 768, 768)],
    "llama": [(4096, 3072, 2048), (4096, 16384, 2048), (4096, 2048, 8192), (512, 128256, 2048)],
    "gpu": [(4096, 384, 384), (4096, 1536, 384), (4096, 384, 1536), (1600, 768, 768), (1600, 3072, 768),
            (256, 2048, 2048), (256, 8192, 2048)],
}
dev = torch.device("cuda")
print("torch", torch.__version__, torch.cuda.get_device_name(0))
for set_name in (sys.argv[1] if len(sys.argv) > 1 else "bert").split(","):
    for m, n, k in SETS.get(set_name) or [tuple(int(x) for x in set_name.split("x"))]:
        for label, dtype, tf32 in (("fp32", torch.float32, False), ("tf32", torch.float32, True), ("fp16", torch.float16, False)):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            a = torch.randn(m, k, device=dev, dtype=dtype); b = torch.randn(n, k, device=dev, dtype=dtype)
            for _ in range(3): a @ b.T
            torch.cuda.synchronize(); t0 = time.perf_counter(); reps = 20
            for _ in range(reps): a @ b.T
            torch.cuda.synchronize(); sec = (time.perf_counter() - t0) / reps
            print(f"torch {label:4s} {set_name:5s} matmul {m}x{n}x{k}: {sec*1e3:.3f} ms, {2*m*n*k/sec/1e9:.1f} GFLOP/s")
