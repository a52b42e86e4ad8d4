"""An independent PyTorch implementation of ROID (Marsden, Doebler & Yang, "Universal Test-time Adaptation through
Weight Ensembling, Diversity Weighting, and Prior Correction", WACV 2024), as the MD-TTA benchmark runs it
(mariodoebler/test-time-adaptation, methods/roid.py, USE_WEIGHTING, USE_PRIOR_CORRECTION, MOMENTUM_SRC=0.99,
MOMENTUM_PROBS=0.9, TEMPERATURE=1/3) but WITHOUT the augmentation-consistency term (USE_CONSISTENCY=False), and
of `source`, on the embedded ResNet-20, run over a stream written by dump-stream.ts. It checks edgetta's
long-stream numbers against code that shares nothing with it but the equations and the model file (README.md).
A cross-check tool: PyTorch is never a dependency of edgetta.

Per batch x (float32), the model's BatchNorms normalizing with the batch statistics (biased variance, never the
running stats), only their affine weight/bias trainable, Adam(lr 1e-3, betas (0.9, 0.999)):
  z = model(x); p = softmax(z)
  no grad: w_div = 1 - cos(pbar, p_i), min-max scaled; mask = w_div < mean(w_div)
           w_cert = -entropy(p_i), min-max scaled; w = exp(w_div * w_cert / T), T = 1/3; w[mask] = 0
           pbar <- 0.9 pbar + 0.1 mean(p)   (pbar starts uniform)
  q = clamp(p, 0, 0.99); slr_i = -sum_k q log(q / (1 - q) + 1e-5)
  loss = sum_{i not masked} w_i slr_i / B  (B = len(x), or --loss-b=N for a fixed denominator, as MD-TTA's
         cfg.TEST.BATCH_SIZE); backward; Adam step; zero_grad
  weight ensembling: theta <- 0.99 theta + 0.01 theta_source (trainable parameters)
  answer (from the z before the update): prior = mean(softmax(z)); s = max(1/B, 1/K) / max(prior);
         answer = z * (prior + s) / (1 + s K)   (multiplies the logits, as the code does)
Min-max scaling divides by max(max - min, 1e-12) (PyTorch would give 0/0 = nan; edgetta guards it).
With --reset-each-domain, the model, Adam's state and pbar go back to the source whenever a batch's domain
differs from the previous batch's (the reset_each_shift protocol).

usage: python3 roid_ref.py <source|roid> [stream dir] [--reset-each-domain] [--model=file.onnx] [--loss-b=N] [--limit-batches=N] [--json=out.json]"""
import json, os, sys, time
import numpy as np, onnx, torch, torch.nn as nn, torch.nn.functional as F
from onnx import numpy_helper

torch.set_num_threads(2)
args = [a for a in sys.argv[1:] if not a.startswith('--')]
if not args or args[0] not in ('source', 'roid'): sys.exit(__doc__.splitlines()[-1])
method = args[0]; d = args[1] if len(args) > 1 else '.'
opt = lambda name, default=None: next((a.split('=', 1)[1] for a in sys.argv[1:] if a.startswith(f'--{name}=')), default)
model_file = opt('model', os.path.join(os.path.dirname(__file__), '..', 'assets', 'resnet20-cifar10.onnx'))
out_json = opt('json'); loss_b = opt('loss-b'); loss_b = int(loss_b) if loss_b else None
reset_each_domain = '--reset-each-domain' in sys.argv[1:]

# The CIFAR ResNet-20 (option-A shortcuts) rebuilt from the ONNX initializers.
W = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(model_file).graph.initializer}
LIN_W = W['net.linear.weight'] if 'net.linear.weight' in W else W['net.fc.weight']
LIN_B = W['net.linear.bias'] if 'net.linear.bias' in W else W['net.fc.bias']

class BN(nn.Module):
    """BatchNorm2d with trainable affine; `batch` mode: biased batch statistics over N,H,W; else running stats."""
    def __init__(self, p, batch):
        super().__init__()
        self.weight = nn.Parameter(W[p + '.weight'].clone()); self.bias = nn.Parameter(W[p + '.bias'].clone())
        self.register_buffer('rm', W[p + '.running_mean'].clone()); self.register_buffer('rv', W[p + '.running_var'].clone())
        self.batch = batch
    def forward(self, x):
        if self.batch: var, mu = torch.var_mean(x, dim=(0, 2, 3), unbiased=False)
        else: mu, var = self.rm, self.rv
        return (x - mu[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + 1e-5) * self.weight[None, :, None, None] + self.bias[None, :, None, None]

class Net(nn.Module):
    def __init__(self, batch):
        super().__init__()
        self.bns = nn.ModuleDict({k[:-len('.running_mean')].replace('.', '_'): BN(k[:-len('.running_mean')], batch)
                                  for k in W if k.endswith('.running_mean')})
    def bn(self, p, x): return self.bns[p.replace('.', '_')](x)
    def forward(self, x):
        x = (x - W['mean'].view(1, 3, 1, 1)) / W['std'].view(1, 3, 1, 1)
        x = F.relu(self.bn('net.bn1', F.conv2d(x, W['net.conv1.weight'], padding=1)))
        for L, planes in ((1, 16), (2, 32), (3, 64)):
            for b in range(3):
                p = f'net.layer{L}.{b}'; stride = 2 if (L > 1 and b == 0) else 1
                o = F.relu(self.bn(p + '.bn1', F.conv2d(x, W[p + '.conv1.weight'], stride=stride, padding=1)))
                o = self.bn(p + '.bn2', F.conv2d(o, W[p + '.conv2.weight'], padding=1))
                sc = x if stride == 1 and x.shape[1] == planes else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))
                x = F.relu(o + sc)
        return F.linear(F.adaptive_avg_pool2d(x, 1).flatten(1), LIN_W, LIN_B)

K = LIN_W.shape[0]
def minmax(v): return (v - v.min()) / torch.clamp(v.max() - v.min(), min=1e-12)

class ROID:
    def __init__(self):
        self.model = Net(batch=True)
        self.src = [p.detach().clone() for p in self.model.parameters()]
        self.reset()
    def reset(self):
        with torch.no_grad():
            for p, s in zip(self.model.parameters(), self.src): p.copy_(s)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, betas=(0.9, 0.999), weight_decay=0)
        self.pbar = torch.full((K,), 1.0 / K)
    def step(self, x):
        z = self.model(x)
        with torch.no_grad():
            p = z.softmax(1)
            w_div = minmax(1 - F.cosine_similarity(self.pbar[None], p, dim=1))
            mask = w_div < w_div.mean()
            w_cert = minmax((z.softmax(1) * z.log_softmax(1)).sum(1))  # -entropy
            w = torch.exp(w_div * w_cert / (1 / 3)); w[mask] = 0.
            self.pbar = 0.9 * self.pbar + 0.1 * p.mean(0)
        q = torch.clamp(z.softmax(1), min=0.0, max=0.99)
        slr = -(q * torch.log(q / (1 - q) + 1e-5)).sum(1)
        loss = (slr * w)[~mask].sum() / (loss_b or len(x))
        loss.backward(); self.opt.step(); self.opt.zero_grad()
        with torch.no_grad():
            for prm, s in zip(self.model.parameters(), self.src): prm.copy_(0.99 * prm + 0.01 * s)
            z = z.detach(); prior = z.softmax(1).mean(0)
            smooth = max(1 / z.shape[0], 1 / z.shape[1]) / prior.max()
            return z * ((prior + smooth) / (1 + smooth * z.shape[1])), z, int((~mask).sum()), float(loss)

meta = json.load(open(f'{d}/meta.json'))
px = np.fromfile(f'{d}/pixels.u8', dtype=np.uint8).reshape(meta['n'], 32, 32, 3)
labels = np.array(meta['labels']); doms = np.array(meta['domains']); sizes = meta['sizes']
names = meta.get('names') or [str(k) for k in range(15)]
lim = int(opt('limit-batches', len(sizes)))

src_model = Net(batch=False).eval()
roid = ROID() if method == 'roid' else None
nd = len(names); wrong = np.zeros(nd, dtype=np.int64); tot = np.zeros(nd, dtype=np.int64)
resets = 0; kept = 0; changed = 0; prev_dom = None; t0 = time.time(); off = 0
for b in range(lim):
    n = sizes[b]; x = torch.from_numpy(px[off:off + n]).permute(0, 3, 1, 2).float() / 255; y = labels[off:off + n]; dd = doms[off:off + n]; off += n
    if roid:
        if reset_each_domain and prev_dom is not None and int(dd[0]) != prev_dom: roid.reset(); resets += 1
        prev_dom = int(dd[-1])
        ans, z, k, _ = roid.step(x); kept += k
        pred = ans.argmax(1).numpy(); changed += int((pred != z.argmax(1).numpy()).sum())
    else:
        with torch.no_grad(): pred = src_model(x).argmax(1).numpy()
    np.add.at(wrong, dd, pred != y); np.add.at(tot, dd, 1)
    if b % 157 == 156: print(f'batch {b + 1}: ' + ' '.join(f'{100 * wrong[k] / tot[k]:.1f}' for k in range(nd) if tot[k]), f'{time.time() - t0:.0f}s', flush=True)
ks = [k for k in range(nd) if tot[k]]
errs = [100 * wrong[k] / tot[k] for k in ks]
if roid: print(f'roid: {lim} batches, {resets} resets, {kept} of {int(tot.sum())} samples in the loss; '
               f'{changed} predictions changed by the prior correction')
print(f'{time.time() - t0:.0f}s')
print(method, ' | '.join(f'{e:.1f}' for e in errs), '| mean', f'{np.mean(errs):.1f}')
if out_json:
    res = {'method': method, 'protocol': meta.get('protocol'),
           'domains': [{'name': names[k], 'n': int(tot[k]), 'errors': int(wrong[k]), 'errorPct': 100 * wrong[k] / tot[k]} for k in ks],
           'mean': float(np.mean(errs))}
    if roid: res['roid'] = {'resetEachDomain': reset_each_domain, 'resets': resets, 'lossSamples': kept,
                            'priorChangedPredictions': changed, 'lossDenominator': loss_b or 'len(x)'}
    os.makedirs(os.path.dirname(os.path.abspath(out_json)), exist_ok=True)
    with open(out_json, 'w') as fh: json.dump(res, fh, indent=1)
