"""Fixture generation only: PyTorch is never a dependency of edgetta.
Trains a CIFAR-10 ResNet-20 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016:
3 stages of 3 basic blocks, 16/32/64 channels, option-A shortcuts, global average pool, linear 10)
in which every BatchNorm2d is replaced by nn.GroupNorm(8, C) (affine): a test/benchmark model with
no batch statistics. The CIFAR mean/std normalization is inside the model, so the ONNX
input is RGB in [0, 1] NCHW. Trained on shared/data/cifar10/train_subset.bin (10,000 images),
evaluated on shared/data/cifar10/test_batch.bin (10,000, evaluation only): random crop 32 with 4-px
zero padding + horizontal flip, SGD (momentum 0.9, nesterov, weight decay 5e-4), lr 0.1 with linear
warmup (1 epoch) then cosine decay per step, batch 128, plain cross-entropy, no weight decay on the
GroupNorm affine parameters and the linear bias, last GroupNorm scale of each block zero-initialized,
torch.manual_seed(0). Default 12 epochs: the first epoch took 256 s on the shared, loaded 2-core
machine, so 12 fit the ~45-minute budget (12 epochs: 40.8 min, 43.88 % test accuracy).
Exports bench/assets/resnet20gn-cifar10.onnx (opset 13, dynamic N, torch.onnx.export defaults
otherwise), prints its op histogram and the node pattern of the first GroupNorm, and writes a fixed
batch with PyTorch's logits to --dump-dir (input.f32, logits.f32, shape.json) for an onnxruntime check.
usage: python3 train_resnet_gn.py [--epochs=N] [--warmup=E] [--data-dir=DIR] [--out=FILE]
       [--ckpt=FILE] [--export-only] [--probe-batches=N] [--dump-dir=DIR]
  --probe-batches=N  time N training batches and exit (to choose --epochs)
  --export-only      skip training, load --ckpt and export"""
import json, math, os, sys, time
from collections import Counter
import numpy as np, onnx, torch, torch.nn as nn, torch.nn.functional as F
from onnx import numpy_helper

torch.set_num_threads(2)
torch.manual_seed(0)
np.random.seed(0)
here = os.path.dirname(os.path.abspath(__file__))
opt = {a.split('=', 1)[0]: (a.split('=', 1)[1] if '=' in a else '1') for a in sys.argv[1:] if a.startswith('--')}
EPOCHS = int(opt.get('--epochs', 12))
WARMUP = float(opt.get('--warmup', 1))
DATA = opt.get('--data-dir', '/work/shared/data/cifar10')
OUT = opt.get('--out', os.path.join(here, '..', 'assets', 'resnet20gn-cifar10.onnx'))
CKPT = opt.get('--ckpt', '/tmp/resnet20gn-cifar10.pt')
DUMP = opt.get('--dump-dir', '/tmp/resnet20gn-check')
PROBE = int(opt.get('--probe-batches', 0))
BATCH = 128
MEAN, STD = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]

def gn(c): return nn.GroupNorm(num_groups=8, num_channels=c, affine=True)

class Block(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False); self.gn1 = gn(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False); self.gn2 = gn(planes)
        self.pad = 0 if stride == 1 and cin == planes else planes // 4  # option A: subsample + zero channels
    def forward(self, x):
        o = F.relu(self.gn1(self.conv1(x)))
        o = self.gn2(self.conv2(o))
        sc = x if self.pad == 0 else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(o + sc)

class ResNet20GN(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer('mean', torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(STD).view(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False); self.gn1 = gn(16)
        layers, cin = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            layers.append(nn.Sequential(*[Block(cin if b == 0 else planes, planes, stride if b == 0 else 1) for b in range(3)]))
            cin = planes
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)): nn.init.kaiming_normal_(m.weight)
        for m in self.modules():  # zero-init the last GroupNorm scale of each block (Goyal et al. 2017): blocks start as identity
            if isinstance(m, Block): nn.init.zeros_(m.gn2.weight)
    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.relu(self.gn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))

def load(name):
    r = np.fromfile(os.path.join(DATA, name), dtype=np.uint8).reshape(-1, 3073)
    return torch.from_numpy(r[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(r[:, 0].astype(np.int64))

def augment(x):
    """x: uint8 [B,3,32,32] -> float [B,3,32,32] in [0,1]; random crop 32 of the 4-px zero-padded image + hflip."""
    B = x.shape[0]
    xp = F.pad(x.float() / 255, (4, 4, 4, 4))
    oy, ox = torch.randint(0, 9, (B,)), torch.randint(0, 9, (B,))
    ar = torch.arange(32)
    rows = (oy[:, None] + ar)[:, None, :, None]; cols = (ox[:, None] + ar)[:, None, None, :]
    out = xp[torch.arange(B)[:, None, None, None], torch.arange(3)[None, :, None, None], rows, cols]
    flip = torch.rand(B) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)

@torch.no_grad()
def evaluate(model, x, y):
    model.eval(); correct = 0
    for i in range(0, len(x), 500):
        correct += (model(x[i:i + 500].float() / 255).argmax(1) == y[i:i + 500]).sum().item()
    return 100.0 * correct / len(x)

model = ResNet20GN()
xte, yte = load('test_batch.bin')
if '--export-only' not in opt:
    xtr, ytr = load('train_subset.bin')
    print(f'train {tuple(xtr.shape)} test {tuple(xte.shape)} classes {torch.bincount(ytr).tolist()}', flush=True)
    decay, no_decay = [], []
    for n, p in model.named_parameters(): (no_decay if p.ndim == 1 else decay).append(p)  # no weight decay on GN affine / biases
    sgd = torch.optim.SGD([{'params': decay, 'weight_decay': 5e-4}, {'params': no_decay, 'weight_decay': 0}], lr=0.1, momentum=0.9, nesterov=True)
    steps_per_epoch = math.ceil(len(xtr) / BATCH); total = EPOCHS * steps_per_epoch; warm = WARMUP * steps_per_epoch
    def lr_at(s): return 0.1 * (s + 1) / warm if s < warm else 0.05 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm)))
    step, t_start = 0, time.time()
    for ep in range(EPOCHS):
        model.train(); t0 = time.time(); perm = torch.randperm(len(xtr)); tl, tc, tn = 0.0, 0, 0
        for bi, i in enumerate(range(0, len(xtr), BATCH)):
            if PROBE and bi == PROBE:
                dt = time.time() - t0
                print(f'probe: {PROBE} batches {dt:.1f}s -> {dt / PROBE * steps_per_epoch:.1f}s/epoch (est.)'); sys.exit(0)
            idx = perm[i:i + BATCH]; xb, yb = augment(xtr[idx]), ytr[idx]
            for g in sgd.param_groups: g['lr'] = lr_at(step)
            z = model(xb); loss = F.cross_entropy(z, yb)
            sgd.zero_grad(set_to_none=True); loss.backward(); sgd.step(); step += 1
            tl += loss.item() * len(idx); tc += (z.argmax(1) == yb).sum().item(); tn += len(idx)
        msg = f'epoch {ep + 1}/{EPOCHS} {time.time() - t0:.1f}s lr {lr_at(step - 1):.4f} loss {tl / tn:.4f} train-acc {100 * tc / tn:.2f}'
        if (ep + 1) % 5 == 0 or ep == 0 or ep + 1 == EPOCHS: msg += f' test-acc {evaluate(model, xte, yte):.2f}'
        print(msg, f'(total {(time.time() - t_start) / 60:.1f} min)', flush=True)
    print(f'training time {(time.time() - t_start) / 60:.1f} min ({EPOCHS} epochs)')
    torch.save(model.state_dict(), CKPT)
else:
    model.load_state_dict(torch.load(CKPT))
model.eval()
print(f'final test accuracy (10,000 images): {evaluate(model, xte, yte):.2f} %')

x = torch.rand(2, 3, 32, 32)
torch.onnx.export(model.eval(), x, OUT, input_names=['input'], output_names=['logits'],
                  dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}}, opset_version=13)
m = onnx.load(OUT); onnx.checker.check_model(m)
print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)')
print('op histogram:', dict(sorted(Counter(n.op_type for n in m.graph.node).items())))
init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
consts = {o: numpy_helper.to_array(a.t) for n in m.graph.node if n.op_type == 'Constant' for a in n.attribute for o in n.output}
def describe(name):
    v = init.get(name, consts.get(name))
    if v is None: return name
    flat = v.flatten()
    vals = f'all {flat[0]:g}' if flat.size and np.all(flat == flat[0]) else f'{flat[:4].tolist()}...'
    return f'{name}{list(v.shape)}={flat.tolist() if v.size <= 8 else vals}'
first = next(i for i, n in enumerate(m.graph.node) if n.op_type == 'InstanceNormalization')
print('first GroupNorm neighbourhood (nodes around the first InstanceNormalization):')
for n in m.graph.node[max(0, first - 4):first + 6]:
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute if a.name != 'value'}
    print(f'  {n.op_type}({", ".join(describe(i) for i in n.input)}) -> {list(n.output)} {attrs if attrs else ""}')

# Fixed batch for the ONNX check: the first 64 test images (onnxruntime-node compares against these logits).
os.makedirs(DUMP, exist_ok=True)
xb = xte[:64].float() / 255
with torch.no_grad(): zb = model(xb)
xb.numpy().astype(np.float32).tofile(os.path.join(DUMP, 'input.f32'))
zb.numpy().astype(np.float32).tofile(os.path.join(DUMP, 'logits.f32'))
json.dump({'input': list(xb.shape), 'logits': list(zb.shape), 'model': os.path.abspath(OUT)}, open(os.path.join(DUMP, 'shape.json'), 'w'))
print(f'fixed batch + PyTorch logits written to {DUMP}')
