"""An independent PyTorch implementation of LAME (Boudiaf, Mueller, Ben Ayed & Bertinetto, "Parameter-free
Online Test-time Adaptation", CVPR 2022), as the MD-TTA benchmark runs it (mariodoebler/test-time-adaptation,
methods/lame.py, defaults AFFINITY=rbf, KNN=5, FORCE_SYMMETRY=False), and of `source`, on the embedded
ResNet-20, run over a stream written by dump-stream.ts. It checks edgetta's long-stream numbers against code
that shares nothing with it but the equations and the model file (README.md). A cross-check tool: PyTorch is
never a dependency of edgetta.

LAME never changes the model: per batch, on the source model in eval mode, it takes the logits z and the
features f (the input of the final linear layer, after global average pooling), and returns the solution Y of
a Laplacian-regularised assignment:
  unary = -log(softmax(z) + 1e-10); f <- f / max(|f|, 1e-12)
  W = exp(-dist^2 / (2 sigma^2)), sigma = mean over rows of the min(5, N)-th smallest distance (self included)
  Y = softmax(-unary); repeat <= 100: Y = softmax(-unary + W @ Y), stop when the energy settles (rel. 1e-8).
The prediction is argmax Y. float32 throughout, as in MD-TTA.

usage: python3 lame_ref.py <source|lame> [stream dir] [--model=file.onnx] [--limit-batches=N] [--json=out.json]"""
import json, os, sys, time
import numpy as np, onnx, torch, torch.nn.functional as F
from onnx import numpy_helper

torch.set_num_threads(2)
args = [a for a in sys.argv[1:] if not a.startswith('--')]
if not args or args[0] not in ('source', 'lame'): sys.exit(__doc__.splitlines()[-1])
method = args[0]; d = args[1] if len(args) > 1 else '.'
opt = lambda name, default=None: next((a.split('=', 1)[1] for a in sys.argv[1:] if a.startswith(f'--{name}=')), default)
model = opt('model', os.path.join(os.path.dirname(__file__), '..', 'assets', 'resnet20-cifar10.onnx'))
out_json = opt('json')

# The CIFAR ResNet-20 (option-A shortcuts) rebuilt from the ONNX initializers, BN in eval mode (running stats).
W = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(model).graph.initializer}
def bn(p, x):
    s = lambda k: W[f'{p}.{k}'][None, :, None, None]
    return (x - s('running_mean')) / torch.sqrt(s('running_var') + 1e-5) * s('weight') + s('bias')
LIN_W = W['net.linear.weight'] if 'net.linear.weight' in W else W['net.fc.weight']
LIN_B = W['net.linear.bias'] if 'net.linear.bias' in W else W['net.fc.bias']
def features(x):
    """The input of the final linear layer: [N, 64] after global average pooling."""
    x = (x - W['mean'].view(1, 3, 1, 1)) / W['std'].view(1, 3, 1, 1)
    x = F.relu(bn('net.bn1', F.conv2d(x, W['net.conv1.weight'], padding=1)))
    for L, planes in ((1, 16), (2, 32), (3, 64)):
        for b in range(3):
            p = f'net.layer{L}.{b}'; stride = 2 if (L > 1 and b == 0) else 1
            o = F.relu(bn(p + '.bn1', F.conv2d(x, W[p + '.conv1.weight'], stride=stride, padding=1)))
            o = bn(p + '.bn2', F.conv2d(o, W[p + '.conv2.weight'], padding=1))
            sc = x if stride == 1 and x.shape[1] == planes else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))
            x = F.relu(o + sc)
    return F.adaptive_avg_pool2d(x, 1).flatten(1)
def classifier(f): return F.linear(f, LIN_W, LIN_B)

# LAME, after MD-TTA methods/lame.py.
def rbf_affinity(X, knn=5):
    N = X.size(0)
    dist = torch.norm(X.unsqueeze(0) - X.unsqueeze(1), dim=-1, p=2)  # [N, N]
    n_neighbors = min(knn, N)
    kth_dist = dist.topk(k=n_neighbors, dim=-1, largest=False).values[:, -1]  # the row's own 0 counts
    sigma = kth_dist.mean()
    return torch.exp(-dist ** 2 / (2 * sigma ** 2))  # diagonal not masked

def entropy_energy(Y, unary, pairwise, bound_lambda):
    return (unary * Y - bound_lambda * pairwise * Y + Y * torch.log(Y.clip(1e-20))).sum()

def laplacian_optimization(unary, kernel, bound_lambda=1, max_steps=100):
    oldE = float('inf')
    Y = (-unary).softmax(-1)  # [N, K]
    for i in range(max_steps):
        pairwise = bound_lambda * kernel.matmul(Y)  # [N, K]
        Y = (-unary + pairwise).softmax(-1)
        E = entropy_energy(Y, unary, pairwise, bound_lambda).item()
        if i > 1 and abs(E - oldE) <= 1e-8 * abs(oldE): break
        oldE = E
    return Y, i + 1

def lame(f, z):
    probas = F.softmax(z, 1)
    unary = -torch.log(probas + 1e-10)
    kernel = rbf_affinity(F.normalize(f, p=2, dim=-1))
    return laplacian_optimization(unary, kernel)

meta = json.load(open(f'{d}/meta.json'))
px = np.fromfile(f'{d}/pixels.u8', dtype=np.uint8).reshape(meta['n'], 32, 32, 3)
labels = np.array(meta['labels']); doms = np.array(meta['domains']); sizes = meta['sizes']
names = meta.get('names') or [str(k) for k in range(15)]
lim = int(opt('limit-batches', len(sizes)))

nd = len(names); wrong = np.zeros(nd, dtype=np.int64); tot = np.zeros(nd, dtype=np.int64)
iters = []; changed = 0; t0 = time.time(); off = 0
for b in range(lim):
    n = sizes[b]; x = torch.from_numpy(px[off:off + n]).permute(0, 3, 1, 2).float() / 255; y = labels[off:off + n]; dd = doms[off:off + n]; off += n
    with torch.no_grad():
        f = features(x); z = classifier(f)
        if method == 'lame':
            Y, it = lame(f, z); iters.append(it); pred = Y.argmax(1).numpy(); changed += int((pred != z.argmax(1).numpy()).sum())
        else:
            pred = z.argmax(1).numpy()
    np.add.at(wrong, dd, pred != y); np.add.at(tot, dd, 1)
    if b % 157 == 156: print(f'batch {b + 1}: ' + ' '.join(f'{100 * wrong[k] / tot[k]:.1f}' for k in range(nd) if tot[k]), f'{time.time() - t0:.0f}s', flush=True)
ks = [k for k in range(nd) if tot[k]]
errs = [100 * wrong[k] / tot[k] for k in ks]
if iters:
    h = np.bincount(iters)
    print(f'lame: {len(iters)} batches, iterations mean {np.mean(iters):.2f} min {min(iters)} max {max(iters)}, histogram',
          {i: int(c) for i, c in enumerate(h) if c}, f'; {changed} of {int(tot.sum())} predictions differ from the source argmax')
print(f'{time.time() - t0:.0f}s')
print(method, ' | '.join(f'{e:.1f}' for e in errs), '| mean', f'{np.mean(errs):.1f}')
if out_json:
    res = {'method': method, 'protocol': meta.get('protocol'),
           'domains': [{'name': names[k], 'n': int(tot[k]), 'errors': int(wrong[k]), 'errorPct': 100 * wrong[k] / tot[k]} for k in ks],
           'mean': float(np.mean(errs))}
    if iters: res['iterations'] = {'mean': float(np.mean(iters)), 'min': int(min(iters)), 'max': int(max(iters)), 'changedPredictions': changed}
    os.makedirs(os.path.dirname(os.path.abspath(out_json)), exist_ok=True)
    with open(out_json, 'w') as fh: json.dump(res, fh, indent=1)
