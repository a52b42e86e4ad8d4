"""An independent PyTorch implementation of RoTTA (Yuan, Xie & Li, CVPR 2023; tta-spec 4.4), and of
`source` and `norm`, on the embedded ResNet-20, run over a stream written by dump-stream.ts. It
checks edgetta's long-stream numbers against code that shares nothing with it but the equations
(README.md). A cross-check tool: PyTorch is never a dependency of edgetta.
usage: python3 rotta_ref.py <source|norm|rotta> [stream dir] [--model=file.onnx] [--no-aug] [--limit-batches=N]"""
import json, math, os, sys, time
import numpy as np, onnx, torch, torch.nn as nn, torch.nn.functional as F
from onnx import numpy_helper
import torchvision.transforms as T
import torchvision.transforms.functional as TF

torch.set_num_threads(2)
torch.manual_seed(0)
args = [a for a in sys.argv[1:] if not a.startswith('--')]
method = args[0]; d = args[1] if len(args) > 1 else '.'
no_aug = '--no-aug' in sys.argv
model = next((a.split('=', 1)[1] for a in sys.argv if a.startswith('--model=')), os.path.join(os.path.dirname(__file__), '..', 'assets', 'resnet20-cifar10.onnx'))
# The CIFAR ResNet-20 (option-A shortcuts) rebuilt from the ONNX initializers.
W = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(model).graph.initializer}

class RBN(nn.Module):
    """Robust BN: train mode mixes globals with biased batch stats (alpha), writes back, normalizes with the mix."""
    def __init__(self, p, alpha, mode):
        super().__init__()
        self.weight = nn.Parameter(W[p + '.weight'].clone()); self.bias = nn.Parameter(W[p + '.bias'].clone())
        self.register_buffer('mu', W[p + '.running_mean'].clone()); self.register_buffer('var', W[p + '.running_var'].clone())
        self.alpha, self.mode = alpha, mode
    def forward(self, x):
        if self.mode == 'batch':  # test-batch statistics (norm)
            mu, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
        elif self.training:
            bv, bm = torch.var_mean(x, dim=[0, 2, 3], unbiased=False)
            mu = (1 - self.alpha) * self.mu + self.alpha * bm
            var = (1 - self.alpha) * self.var + self.alpha * bv
            self.mu, self.var = mu.detach().clone(), var.detach().clone()
        else:
            mu, var = self.mu, self.var
        return (x - mu[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + 1e-5) * self.weight[None, :, None, None] + self.bias[None, :, None, None]

class Net(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.bns = nn.ModuleDict()
        for k in W:
            if k.endswith('.running_mean'):
                p = k[:-len('.running_mean')]; self.bns[p.replace('.', '_')] = RBN(p, 0.05, mode)
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
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return F.linear(x, W['net.linear.weight'] if 'net.linear.weight' in W else W['net.fc.weight'], W['net.linear.bias'] if 'net.linear.bias' in W else W['net.fc.bias'])

def color_jitter_pro(x):
    """CoTTA's ColorJitterPro: brightness, contrast, saturation, hue, gamma in random order, one draw per batch."""
    fs = [lambda v: TF.adjust_brightness(v, float(torch.empty(1).uniform_(0.6, 1.4))),
          lambda v: TF.adjust_contrast(v, float(torch.empty(1).uniform_(0.7, 1.3))),
          lambda v: TF.adjust_saturation(v, float(torch.empty(1).uniform_(0.5, 1.5))),
          lambda v: TF.adjust_hue(v, float(torch.empty(1).uniform_(-0.06, 0.06))),
          lambda v: TF.adjust_gamma(v.clamp(1e-8, 1), float(torch.empty(1).uniform_(0.7, 1.3)))]
    for i in torch.randperm(5).tolist(): x = fs[i](x)
    return x

affine = T.RandomAffine(degrees=[-15, 15], translate=(1 / 16, 1 / 16), scale=(0.9, 1.1), interpolation=T.InterpolationMode.BILINEAR)
blur = T.GaussianBlur(kernel_size=5, sigma=[0.001, 0.5])
def augment(x):
    if no_aug: return x
    n = x.shape[-1]
    x = color_jitter_pro(x.clamp(0, 1))
    x = F.pad(x, (n // 2,) * 4, mode='replicate')
    x = blur(affine(x))
    x = TF.center_crop(x, [n, n])
    if torch.rand(1) < 0.5: x = TF.hflip(x)
    return (x + torch.randn_like(x) * 0.005).clamp(0, 1)

class CSTU:
    def __init__(s, N=64, K=10): s.N, s.K, s.items = N, K, []  # item: [x, y, u, age]
    def score(s, age, u): return 1 / (1 + math.exp(-age / s.N)) + u / math.log(s.K)
    def add(s, x, y, u):
        new = [x, y, u, 0]; snew = s.score(0, u)
        occ = [sum(1 for it in s.items if it[1] == k) for k in range(s.K)]
        if occ[y] < s.N / s.K:
            if len(s.items) < s.N: s.items.append(new)
            else:
                mx = max(occ); maj = [k for k in range(s.K) if occ[k] == mx]
                s._evict([i for i, it in enumerate(s.items) if it[1] in maj], new, snew)
        else:
            s._evict([i for i, it in enumerate(s.items) if it[1] == y], new, snew)
        for it in s.items: it[3] += 1
    def _evict(s, idx, new, snew):
        best, bs = None, -1e9
        for i in idx:  # ties go to the later item
            sc = s.score(s.items[i][3], s.items[i][2])
            if sc >= bs: best, bs = i, sc
        if best is not None and bs > snew: s.items.pop(best); s.items.append(new)

meta = json.load(open(f'{d}/meta.json'))
px = np.fromfile(f'{d}/pixels.u8', dtype=np.uint8).reshape(meta['n'], 32, 32, 3)
labels = np.array(meta['labels']); doms = np.array(meta['domains']); sizes = meta['sizes']
lim = next((int(a.split('=')[1]) for a in sys.argv if a.startswith('--limit-batches=')), len(sizes))

student = Net('batch' if method == 'norm' else 'rbn')
teacher = Net('rbn')
for p in teacher.parameters(): p.requires_grad_(False)
opt = torch.optim.Adam(student.parameters(), lr=1e-3, betas=(0.9, 0.999))
mem = CSTU(); count = 0
wrong = np.zeros(15); tot = np.zeros(15); t0 = time.time(); off = 0
for b in range(lim):
    n = sizes[b]; x = torch.from_numpy(px[off:off + n]).permute(0, 3, 1, 2).float() / 255; y = labels[off:off + n]; dd = doms[off:off + n]; off += n
    with torch.no_grad():
        if method in ('source', 'norm'): student.eval(); z = student(x)
        else:
            teacher.eval(); z = teacher(x)
    pred = z.argmax(1).numpy()
    np.add.at(wrong, dd, pred != y); np.add.at(tot, dd, 1)
    if method == 'rotta':
        p = z.softmax(1); u = -(p * torch.log(p + 1e-6)).sum(1); yh = p.argmax(1)
        for i in range(n):
            mem.add(x[i], int(yh[i]), float(u[i])); count += 1
            if count % 64 == 0:
                student.train(); teacher.train()
                xm = torch.stack([it[0] for it in mem.items]); ages = torch.tensor([it[3] / mem.N for it in mem.items])
                with torch.no_grad(): q = teacher(xm).softmax(1)
                zs = student(augment(xm))
                w = torch.exp(-ages) / (1 + torch.exp(-ages))
                loss = (-(q * zs.log_softmax(1)).sum(1) * w).mean()
                opt.zero_grad(); loss.backward(); opt.step()
                with torch.no_grad():
                    for tp, sp in zip(teacher.parameters(), student.parameters()): tp.mul_(1 - 0.001).add_(0.001 * sp)
    if b % 157 == 156: print(f'batch {b + 1}: ' + ' '.join(f'{100 * wrong[k] / tot[k]:.1f}' for k in range(15) if tot[k]), f'{time.time() - t0:.0f}s', flush=True)
errs = [100 * wrong[k] / tot[k] for k in range(15) if tot[k]]
print(method, ' | '.join(f'{e:.1f}' for e in errs), '| mean', f'{np.mean(errs):.1f}')
