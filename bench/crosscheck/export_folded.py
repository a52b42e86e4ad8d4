"""Fixture generation only: PyTorch is never a dependency of edgetta.
Rebuilds the embedded CIFAR ResNet-20 (option-A shortcuts, in-graph mean/std normalization) from the
initializers of bench/assets/resnet20-cifar10.onnx with ordinary torch.nn.BatchNorm2d modules, checks
its logits against the ONNX model's on a fixed random batch, and re-exports it with torch.onnx.export's
default settings (eval mode, constant folding on), which folds every BatchNorm into its Conv. Writes
resnet20-cifar10-folded.onnx (dynamic N) and resnet20-cifar10-folded-dynhw.onnx (dynamic N, H, W).
usage: python3 export_folded.py [--model=resnet20-cifar10.onnx] [--out-dir=bench/assets]"""
import os, sys
from collections import Counter
import numpy as np, onnx, torch, torch.nn as nn, torch.nn.functional as F
from onnx import numpy_helper, helper

here = os.path.dirname(os.path.abspath(__file__))
opt = {a.split('=', 1)[0]: a.split('=', 1)[1] for a in sys.argv[1:] if a.startswith('--') and '=' in a}
src = opt.get('--model', os.path.join(here, '..', 'assets', 'resnet20-cifar10.onnx'))
out_dir = opt.get('--out-dir', os.path.join(here, '..', 'assets'))

m_src = onnx.load(src)
W = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m_src.graph.initializer}
# BatchNormalization epsilon per BN, keyed by its weight's prefix (e.g. 'net.layer1.0.bn1').
EPS = {}
for n in m_src.graph.node:
    if n.op_type == 'BatchNormalization':
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        EPS[n.input[1][:-len('.weight')]] = float(a.get('epsilon', 1e-5))
# The graph opens with Sub(input, mean) then Div(., std): the normalization is rebuilt the same way.
first = [n.op_type for n in m_src.graph.node[:2]]
assert first == ['Sub', 'Div'] and list(m_src.graph.node[0].input)[1] == 'mean' and list(m_src.graph.node[1].input)[1] == 'std', first

def conv(w, stride=1):
    c = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], stride=stride, padding=w.shape[2] // 2, bias=False)
    c.weight.data.copy_(w); return c

def bn(p):
    b = nn.BatchNorm2d(W[p + '.weight'].numel(), eps=EPS[p])
    b.weight.data.copy_(W[p + '.weight']); b.bias.data.copy_(W[p + '.bias'])
    b.running_mean.copy_(W[p + '.running_mean']); b.running_var.copy_(W[p + '.running_var'])
    return b

class Block(nn.Module):
    def __init__(self, p, planes, stride):
        super().__init__()
        self.conv1, self.bn1 = conv(W[p + '.conv1.weight'], stride), bn(p + '.bn1')
        self.conv2, self.bn2 = conv(W[p + '.conv2.weight']), bn(p + '.bn2')
        self.planes, self.stride = planes, stride
        self.identity = stride == 1 and W[p + '.conv1.weight'].shape[1] == planes  # known at build time
    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.bn2(self.conv2(o))
        if self.identity: sc = x
        else: sc = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.planes // 4, self.planes // 4))  # option A
        return F.relu(o + sc)

class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer('mean', W['mean'].clone().view(1, 3, 1, 1))
        self.register_buffer('std', W['std'].clone().view(1, 3, 1, 1))
        self.conv1, self.bn1 = conv(W['net.conv1.weight']), bn('net.bn1')
        blocks = []
        for L, planes in ((1, 16), (2, 32), (3, 64)):
            for b in range(3):
                blocks.append(Block(f'net.layer{L}.{b}', planes, 2 if (L > 1 and b == 0) else 1))
        self.blocks = nn.Sequential(*blocks)
        fc = 'net.linear' if 'net.linear.weight' in W else 'net.fc'
        self.linear = nn.Linear(64, 10)
        self.linear.weight.data.copy_(W[fc + '.weight']); self.linear.bias.data.copy_(W[fc + '.bias'])
    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.blocks(x)
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))

model = ResNet20().eval()
torch.manual_seed(0)
x = torch.rand(4, 3, 32, 32)
with torch.no_grad(): z = model(x)

def run_onnx(path, inp):
    try:
        from onnx.reference import ReferenceEvaluator
    except ImportError:
        return None
    return ReferenceEvaluator(path).run(None, {'input': inp.numpy()})[0]

ref = run_onnx(src, x)
if ref is None:
    print(f'onnx {onnx.__version__} has no onnx.reference.ReferenceEvaluator: SKIPPED the check of the PyTorch logits against {os.path.basename(src)}')
else:
    d = float(np.abs(z.numpy() - ref).max())
    print(f'max |PyTorch - {os.path.basename(src)} (BN kept)| logits on the check batch: {d:.3g}')
    assert d < 1e-4, d

with torch.no_grad():
    for s in (32, 40):
        zs = model(torch.rand(2, 3, s, s)); assert zs.shape == (2, 10), zs.shape
print('PyTorch model runs at 32x32 and 40x40')

def export(out, dyn):
    torch.onnx.export(model.eval(), x, out, input_names=['input'], output_names=['logits'], dynamic_axes=dyn, opset_version=13)
    m = onnx.load(out); onnx.checker.check_model(m)
    hist = Counter(n.op_type for n in m.graph.node)
    print(os.path.basename(out), os.path.getsize(out), 'bytes, ops:', dict(sorted(hist.items())))
    assert hist['BatchNormalization'] == 0 and hist['Conv'] == 19, hist
    got = run_onnx(out, x)
    if got is not None: print(f'  max |PyTorch - {os.path.basename(out)}| logits: {float(np.abs(z.numpy() - got).max()):.3g}')

print('torch', torch.__version__, 'onnx', onnx.__version__)
export(os.path.join(out_dir, 'resnet20-cifar10-folded.onnx'), {'input': {0: 'N'}, 'logits': {0: 'N'}})
export(os.path.join(out_dir, 'resnet20-cifar10-folded-dynhw.onnx'), {'input': {0: 'N', 2: 'H', 3: 'W'}, 'logits': {0: 'N'}})
