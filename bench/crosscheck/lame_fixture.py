"""Writes adapters/lame/test/lame-torch.json, the PyTorch reference that pins edgetta's LAME solver (Boudiaf et
al., CVPR 2022, as MD-TTA's methods/lame.py runs it: rbf affinity, KNN=5, FORCE_SYMMETRY=False) for the
TypeScript unit test. Deterministic (seeded numpy generator), float64 torch, exactly the equations of
lame_ref.py:
  unary = -log(softmax(z) + 1e-10); f <- F.normalize(f) (eps 1e-12)
  dist = |f_i - f_j| (norm of the difference, so duplicate rows are exactly 0 apart)
  sigma = mean_i (min(5, N)-th smallest of dist[i], its own 0 included); W = exp(-dist^2 / (2 sigma^2)), diagonal kept
  Y = softmax(-unary); for i < 100: P = W @ Y; Y = softmax(-unary + P);
    E = sum(unary Y - P Y + Y log(clip(Y, 1e-20))); stop when i > 1 and |E - oldE| <= 1e-8 |oldE|, else oldE = E
The file is a JSON array of cases {name, note, N, D, K, features, logits, expected: {sigma, affinity, Y,
iterations}, changedRows, labels, iterationsFloat32}. `features` (raw, not normalized) and `logits` are float32 values written in their
shortest float32 form (read them through a Float32Array / Math.fround to get the exact inputs); `expected` was
computed in float64 from those exact float32 values and is rounded to 8 significant digits. `iterations` counts
the Y updates (i + 1 at the break, 100 without one). `changedRows` lists the rows whose argmax Y differs from
argmax logits, `labels` the classes the rows were drawn from, `iterationsFloat32` the iteration count of the same
solver run in float32 (the float32 stopping test can fire at a different step). A cross-check tool: PyTorch is never a dependency of edgetta.

usage: python3 lame_fixture.py [out.json]"""
import json, os, sys
import numpy as np, torch, torch.nn.functional as F

torch.set_num_threads(2)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', 'adapters', 'lame', 'test', 'lame-torch.json')

def rbf_affinity(X, knn=5):
    N = X.size(0)
    dist = torch.norm(X.unsqueeze(0) - X.unsqueeze(1), dim=-1, p=2)
    kth = dist.topk(k=min(knn, N), dim=-1, largest=False).values[:, -1]
    sigma = kth.mean()
    return torch.exp(-dist ** 2 / (2 * sigma ** 2)), sigma

def laplacian_optimization(unary, kernel, max_steps=100):
    oldE = float('inf')
    Y = (-unary).softmax(-1)
    for i in range(max_steps):
        pairwise = kernel.matmul(Y)
        Y = (-unary + pairwise).softmax(-1)
        E = (unary * Y - pairwise * Y + Y * torch.log(Y.clip(1e-20))).sum().item()
        if i > 1 and abs(E - oldE) <= 1e-8 * abs(oldE): break
        oldE = E
    return Y, i + 1

def lame(f, z):
    unary = -torch.log(F.softmax(z, 1) + 1e-10)
    W, sigma = rbf_affinity(F.normalize(f, p=2, dim=-1))
    Y, it = laplacian_optimization(unary, W)
    return sigma, W, Y, it

def draw(rng, N, D, K, classes, head_noise, target_conf, sample_noise=0.0):
    """Class-clustered, non-negative features like the GAP of a ReLU net (tuned to the embedded ResNet-20 on
    CIFAR-10: ~30% zeros, normalized distances ~0.42 within a class and ~0.91 between classes, sigma ~0.49), and
    logits from a noisy linear head (plus per-image noise if sample_noise), scaled so the mean max softmax is target_conf. Returns float32 arrays and
    the true labels."""
    base = np.abs(rng.normal(0, 1, D))
    dirs = rng.normal(0, 1, (K, D))
    y = rng.choice(classes, size=N)
    f = np.maximum(base + dirs[y] + rng.normal(0, 0.5, (N, D)), 0)
    head = dirs + rng.normal(0, head_noise, (K, D))
    z0 = f @ head.T
    z0 = z0 - z0.mean(1, keepdims=True)
    z0 = z0 + rng.normal(0, sample_noise * z0.std(), (N, K))  # per-image logit noise (a shifted domain)
    lo, hi = 1e-4, 1e3  # bisect the temperature
    for _ in range(100):
        s = (lo * hi) ** 0.5
        c = torch.from_numpy(z0 * s).softmax(1).max(1).values.mean().item()
        lo, hi = (s, hi) if c < target_conf else (lo, s)
    return f.astype(np.float32), (z0 * s + rng.normal(0, 0.3, K)).astype(np.float32), y

r8 = lambda a: [[float(f'{v:.8g}') for v in row] for row in np.asarray(a).tolist()]
f32 = lambda a: [[float(str(np.float32(v))) for v in row] for row in a]

def case(name, note, f, z, y):
    N, D = f.shape; K = z.shape[1]
    assert all(np.float32(float(str(np.float32(v)))) == v for v in f.ravel()), 'float32 round trip'
    sigma, W, Y, it = lame(torch.from_numpy(f.astype(np.float64)), torch.from_numpy(z.astype(np.float64)))
    changed = [i for i in range(N) if int(Y[i].argmax()) != int(np.argmax(z[i]))]
    _, _, Y32, it32 = lame(torch.from_numpy(f), torch.from_numpy(z))  # the same in float32, for information
    d32 = (Y32.double() - Y).abs().max().item()
    print(f'{name}: N={N} D={D} K={K} sigma={sigma.item():.6g} iterations={it} max softmax={torch.from_numpy(z.astype(np.float64)).softmax(1).max(1).values.mean().item():.3f}'
          f' source err={np.mean(np.argmax(z, 1) != y):.3f} lame err={np.mean(Y.argmax(1).numpy() != y):.3f} changedRows={changed} | float32: iterations={it32} max|dY|={d32:.2g}')
    return {'name': name, 'note': note, 'N': N, 'D': D, 'K': K, 'features': f32(f), 'logits': f32(z),
            'expected': {'sigma': float(f'{sigma.item():.8g}'), 'affinity': r8(W.numpy()), 'Y': r8(Y.numpy()), 'iterations': it},
            'changedRows': changed, 'labels': [int(v) for v in y], 'iterationsFloat32': it32}

HEAD_NOISE, SHIFT_NOISE, SHIFT_CONF = 0.5, 0.8, 0.8
rng = np.random.default_rng(20221)
cases = []
for N, conf in ((2, 0.6), (3, 0.7), (5, 0.8), (6, 0.9)):
    f, z, y = draw(rng, N, 16, 10, np.arange(10), HEAD_NOISE, conf)
    cases.append(case(f'random-N{N}', f'random class-clustered batch, D=16, K=10, mean max softmax {conf}', f, z, y))
f, z, y = draw(rng, 64, 64, 10, np.arange(10), HEAD_NOISE, 0.9)
cases.append(case('random-N64', 'random class-clustered batch over all 10 classes, D=64, K=10, mean max softmax 0.9', f, z, y))
# Duplicates: rows 0..5 are the same image (6 copies: those rows' 5th-smallest distance is exactly 0), rows 10..12
# copies of row 9, row 40 a copy of row 20. Duplicate features give duplicate logits, as in a real batch.
f, z, y = draw(rng, 64, 64, 10, np.arange(10), HEAD_NOISE, 0.9)
for dst, src in [(i, 0) for i in range(1, 6)] + [(10, 9), (11, 9), (12, 9), (40, 20)]:
    f[dst], z[dst], y[dst] = f[src], z[src], y[src]
cases.append(case('duplicates-N64', 'N=64, D=64, K=10 with duplicate rows: 0-5 identical (6 copies), 9-12 identical, 40 = 20', f, z, y))
# Label shift, as in a dirichlet stream: three classes only, per-image logit noise (23% of the argmaxes wrong):
# LAME moves the stray guesses of each feature cluster onto the cluster's class (0% wrong after).
f, z, y = draw(rng, 64, 64, 10, np.array([1, 4, 7]), HEAD_NOISE, SHIFT_CONF, SHIFT_NOISE)
cases.append(case('labelshift-N64', f'N=64, D=64, K=10, three classes (1, 4, 7) only, per-image logit noise, mean max softmax {SHIFT_CONF}: '
                  'LAME changes the argmax of the rows listed in changedRows', f, z, y))

os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
with open(OUT, 'w') as fh: json.dump(cases, fh, separators=(',', ':'))
print(f'{len(cases)} cases -> {OUT} ({os.path.getsize(OUT) / 1024:.0f} KB)')
