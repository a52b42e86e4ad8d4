"""Fixture generation only: PyTorch is never a dependency of edgetta.

Writes the conformance corpus of bench/test/corpus.test.ts into the directory given on the command
line: seven torchvision architectures (random init, fixed seed, no pretrained weights), each exported
two ways, and PyTorch reference arrays.

  <name>-folded.onnx     torch.onnx.export defaults (eval mode, constant folding: BN folded into Conv)
  <name>-preserved.onnx  training=TrainingMode.PRESERVE, do_constant_folding=False (model in eval mode,
                         so every BatchNormalization is kept in inference form with its running stats)
  input.npy, calib.npy   test batch [8, 3, S, S] (shifted distribution) and calibration [256, 3, S, S]
  <name>-source.npy      eval-mode logits on input.npy
  <name>-train.npy       logits with every BatchNorm in train mode (batch mean, biased variance; running
                         statistics not updated: momentum 0 on a copy), all other modules in eval mode
                         (Dropout / StochasticDepth off)
  <name>-grads.npy       Tent's first-step gradients (computed in float64, saved as float32) (entropy of softmax over the class axis, mean over the
                         batch; per-pixel entropy averaged over batch and pixels for LR-ASPP) of every BN
                         scale and bias, concatenated per BN node in the preserved graph's node order
                         (gamma_0, beta_0, gamma_1, ...)
  <name>-meta.json       BN node names, channels, loss, logits scale
  manifest.json          versions and timings; written last (its presence marks a complete corpus)

BN parameters are set to non-trivial random values (gamma ~ U(0.5, 1.5), beta ~ N(0, 0.2)) and the
running statistics to the cumulative average (momentum=None) of train-mode passes over the
calibration batches, so the statistics are consistent with calib.npy. A classifier's last Linear is
rescaled so its eval-mode logits have standard deviation 2 on the calibration set.

usage: /usr/bin/python3 bench/crosscheck/corpus.py <out-dir>
"""
import copy, json, os, sys, time
import numpy as np, onnx, torch, torch.nn as nn, torchvision
from torchvision.models import segmentation

if len(sys.argv) != 2:
    sys.exit(__doc__)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.set_num_threads(2)
t_start = time.time()

S_CLS, S_SEG, N, N_CAL, CAL_CHUNK = 64, 64, 8, 256, 32


class SegOut(nn.Module):
    """LR-ASPP returns a dict; export its 'out' map."""
    def __init__(self, m):
        super().__init__()
        self.m = m
    def forward(self, x):
        return self.m(x)['out']


def lraspp():
    try:
        m = segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=4)
    except TypeError:
        m = segmentation.lraspp_mobilenet_v3_large(pretrained=False, pretrained_backbone=False, num_classes=4)
    return SegOut(m)


MODELS = [
    ('mobilenet_v2', lambda: torchvision.models.mobilenet_v2(num_classes=10), False),
    ('mobilenet_v3_small', lambda: torchvision.models.mobilenet_v3_small(num_classes=10), False),
    ('efficientnet_b0', lambda: torchvision.models.efficientnet_b0(num_classes=10), False),
    ('shufflenet_v2_x0_5', lambda: torchvision.models.shufflenet_v2_x0_5(num_classes=10), False),
    ('regnet_y_400mf', lambda: torchvision.models.regnet_y_400mf(num_classes=10), False),
    ('resnet18', lambda: torchvision.models.resnet18(num_classes=10), False),
    ('lraspp_mobilenet_v3_large', lraspp, True),
]

g = torch.Generator().manual_seed(1234)
calib = torch.randn(N_CAL, 3, S_CLS, S_CLS, generator=g)
# The test batch comes from a shifted, rescaled distribution, so batch statistics differ from the source.
x = 1.4 * torch.randn(N, 3, S_CLS, S_CLS, generator=g) + 0.3
assert S_SEG == S_CLS  # one input and one calibration set serve every model
np.save(os.path.join(out, 'input.npy'), x.numpy())
np.save(os.path.join(out, 'calib.npy'), calib.numpy())


def bns(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def bn_train(model, momentum):
    """Eval mode everywhere except the BatchNorms (train mode, given momentum)."""
    model.eval()
    for b in bns(model):
        b.train()
        b.momentum = momentum
    return model


def entropy_loss(z):
    logp = torch.log_softmax(z, dim=1)
    return -(logp.exp() * logp).sum(1).mean()  # mean over the batch (and the pixels of a dense map)


manifest = {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'onnx': onnx.__version__,
            'input': list(x.shape), 'calib': list(calib.shape), 'models': {}}
for k, (name, build, dense) in enumerate(MODELS):
    t0 = time.time()
    torch.manual_seed(100 + k)
    model = build()
    with torch.no_grad():
        for b in bns(model):
            b.weight.uniform_(0.5, 1.5)
            b.bias.normal_(0.0, 0.2)
            b.reset_running_stats()
        bn_train(model, None)  # cumulative average over the calibration passes
        for i in range(0, N_CAL, CAL_CHUNK):
            model(calib[i:i + CAL_CHUNK])
    model.eval()
    for b in bns(model):
        b.momentum = 0.1
    if not dense:  # rescale the last Linear (after every BN) so the logits are O(1): std 2 on the calibration set
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            head.weight.mul_(2.0 / float(model(calib[:64]).std()))
            head.bias.zero_()

    with torch.no_grad():
        z_src = model(x)
    ref = bn_train(copy.deepcopy(model), 0.0)
    for p in ref.parameters():
        p.requires_grad_(False)
    for b in bns(ref):
        b.weight.requires_grad_(True)
        b.bias.requires_grad_(True)
    z_train = ref(x)
    loss = entropy_loss(z_train)
    loss.backward()
    # The same forward and gradients in float64: the saved gradients are these (rounded to float32),
    # and the float32 PyTorch gradients' distance to them is recorded (float32 noise of the reference).
    ref64 = copy.deepcopy(ref).double()
    for p in ref64.parameters():
        p.grad = None
    loss64 = entropy_loss(ref64(x.double()))
    loss64.backward()
    # the copy's running statistics are unchanged (momentum 0 keeps them)
    for a, b in zip(bns(model), bns(ref)):
        assert torch.equal(a.running_mean, b.running_mean) and torch.equal(a.running_var, b.running_var)

    out_name = 'out' if dense else 'logits'
    dyn = {'input': {0: 'N'}, out_name: {0: 'N'}}
    folded = os.path.join(out, f'{name}-folded.onnx')
    preserved = os.path.join(out, f'{name}-preserved.onnx')
    torch.onnx.export(model.eval(), x, folded, input_names=['input'], output_names=[out_name], dynamic_axes=dyn, opset_version=13)
    torch.onnx.export(model.eval(), x, preserved, input_names=['input'], output_names=[out_name], dynamic_axes=dyn, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    mf, mp = onnx.load(folded), onnx.load(preserved)
    onnx.checker.check_model(mf)
    onnx.checker.check_model(mp)
    n_bn_f = sum(n.op_type == 'BatchNormalization' for n in mf.graph.node)
    bn_nodes = [n for n in mp.graph.node if n.op_type == 'BatchNormalization']
    assert n_bn_f == 0, (name, n_bn_f)

    # Gradients in the preserved graph's BN node order, matched by the scale initializer's name.
    by_weight = {mod_name + '.weight': m for mod_name, m in ref.named_modules() if isinstance(m, nn.BatchNorm2d)}
    by_weight64 = {mod_name + '.weight': m for mod_name, m in ref64.named_modules() if isinstance(m, nn.BatchNorm2d)}
    inits = {t.name for t in mp.graph.initializer}
    grads, grads32, layer_names, channels = [], [], [], []
    for n in bn_nodes:
        w = n.input[1]
        assert w in inits and w in by_weight, (name, w)
        m, m64 = by_weight[w], by_weight64[w]
        grads += [m64.weight.grad.numpy().ravel(), m64.bias.grad.numpy().ravel()]
        grads32 += [m.weight.grad.numpy().ravel(), m.bias.grad.numpy().ravel()]
        layer_names.append(w[:-len('.weight')])
        channels.append(m.num_features)
    assert len(bn_nodes) == len(bns(model)), (name, len(bn_nodes), len(bns(model)))

    np.save(os.path.join(out, f'{name}-source.npy'), z_src.numpy())
    np.save(os.path.join(out, f'{name}-train.npy'), z_train.detach().numpy())
    g64, g32 = np.concatenate(grads), np.concatenate(grads32).astype(np.float64)
    torch32_rel_l2 = float(np.linalg.norm(g32 - g64) / np.linalg.norm(g64))
    np.save(os.path.join(out, f'{name}-grads.npy'), g64.astype(np.float32))
    meta = {'name': name, 'dense': dense, 'output': out_name, 'bn': len(bn_nodes), 'layers': layer_names, 'channels': channels,
            'loss': float(loss64), 'torch_float32_grads_rel_l2': torch32_rel_l2, 'logits_scale_source': float(z_src.abs().max()), 'logits_scale_train': float(z_train.abs().max()),
            'output_shape': list(z_src.shape), 'folded_bytes': os.path.getsize(folded), 'preserved_bytes': os.path.getsize(preserved),
            'folded_nodes': len(mf.graph.node), 'preserved_nodes': len(mp.graph.node), 'seconds': round(time.time() - t0, 2)}
    with open(os.path.join(out, f'{name}-meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    manifest['models'][name] = {k2: meta[k2] for k2 in ('bn', 'loss', 'torch_float32_grads_rel_l2', 'seconds', 'folded_bytes', 'preserved_bytes')}
    print(f'{name}: {len(bn_nodes)} BN, loss {float(loss64):.6f}, |z| {meta["logits_scale_train"]:.3g}, torch f32 grads vs f64 rel L2 {torch32_rel_l2:.2e}, {meta["seconds"]} s', flush=True)

manifest['seconds'] = round(time.time() - t_start, 2)
with open(os.path.join(out, 'manifest.json'), 'w') as f:
    json.dump(manifest, f, indent=1)
print(f'corpus written to {out} in {manifest["seconds"]} s')
