import { attrString, type Node } from '@edgetta/onnx';
import type { Emitter } from '../emit.js';
import type { GradRule } from './types.js';

/**
 * The [h, H] matrix A^T of Resize's 1-D interpolation along `axis` (h -> H): row k is the resized
 * unit vector e_k, computed by the node's own Resize (same mode and coordinate transformation) on
 * the identity viewed as h one-pixel-wide images, so every mode and transformation is covered.
 */
function interpolationT(node: Node, e: Emitter, axis: 2 | 3): string {
  const [x, , scales, sizes] = node.inputs;
  const y = node.outputs[0];
  const h = e.dimOf(x, axis);
  const hs = e.squeeze(h, [0]);
  const idx = e.op('Range', [e.i64([0], []), hs, e.i64([1], [])]);
  const eye = e.op('Cast', [e.op('Equal', [e.unsqueeze(idx, [1]), e.unsqueeze(idx, [0])])], { to: 1 });
  const one = e.i64([1]);
  const view = axis === 2 ? [h, one, h, one] : [h, one, one, h];
  const images = e.op('Reshape', [eye, e.op('Concat', view, { axis: 0 })]);
  const empty = e.tensor(`${node.name}/empty`, new Float32Array(0), [0]);
  let resized: string;
  if (sizes) {
    const H = e.dimOf(y, axis);
    const to = axis === 2 ? [h, one, H, one] : [h, one, one, H];
    resized = e.op('Resize', [images, empty, empty, e.op('Concat', to, { axis: 0 })], { ...node.attrs });
  } else {
    // The node's own scale along the axis (floor(h * s) output extent, as the forward).
    const s = e.op('Gather', [scales, e.i64([axis])], { axis: 0 });
    const f1 = e.tensor(`${node.name}/one`, new Float32Array([1]), [1]);
    const sc = e.op('Concat', axis === 2 ? [f1, f1, s, f1] : [f1, f1, f1, s], { axis: 0 });
    resized = e.op('Resize', [images, empty, sc], { ...node.attrs });
  }
  return e.op('Reshape', [resized, e.op('Concat', [h, e.i64([-1])], { axis: 0 })]);
}

/**
 * Resize of a 4-D [N, C, h, w] map along its spatial axes (N and C unscaled): separable and linear
 * in x, y = A_H x A_W^T per image and channel, so dx = A_H^T dy A_W (two MatMuls). Only x gets a
 * gradient (roi, scales and sizes are constants of the backward pass).
 */
export const resizeRules: Record<string, GradRule> = {
  Resize: ({ node, e, dy: [g] }) => {
    const [x, , scales, sizes] = node.inputs;
    const rank = e.needRank(x, `Resize '${node.name}'`);
    if (rank !== 4) throw new Error(`autodiff: Resize '${node.name}': a gradient rule exists for 4-D [N, C, H, W] inputs only, this one has rank ${rank}`);
    const mode = attrString(node, 'mode', 'nearest');
    if (attrString(node, 'coordinate_transformation_mode', 'half_pixel') === 'tf_crop_and_resize') {
      throw new Error(`autodiff: Resize '${node.name}': coordinate_transformation_mode 'tf_crop_and_resize' has no gradient rule`);
    }
    const fixed = sizes ? e.value(sizes) : scales ? e.value(scales) : undefined;
    const sx = e.shape(x);
    if (fixed && (sizes ? fixed.values[0] !== sx?.[0] && typeof sx?.[0] === 'number' || fixed.values[1] !== sx?.[1] && typeof sx?.[1] === 'number' : fixed.values[0] !== 1 || fixed.values[1] !== 1)) {
      throw new Error(`autodiff: Resize '${node.name}' (${mode}) scales its batch or channel axis; its gradient rule covers spatial resizing only`);
    }
    const aHt = interpolationT(node, e, 2);
    const aWt = interpolationT(node, e, 3);
    const rows = e.op('MatMul', [aHt, g!]); // [h, H] x [N, C, H, W] -> [N, C, h, W]
    const dx = e.op('MatMul', [rows, e.op('Transpose', [aWt], { perm: [1, 0] })]); // x [W, w] -> [N, C, h, w]
    e.setShape(dx, sx);
    return [dx, null, null, null];
  },
};
