import type { Node } from '@edgetta/onnx';
import type { Emitter } from '../emit.js';

/** What a gradient rule sees: the forward node, the emitter, output gradients, and which inputs need one. */
export interface RuleArgs {
  node: Node;
  e: Emitter;
  /** Gradient of each output (exactly that output's shape), or null where none flows. */
  dy: (string | null)[];
  /** Whether input i needs a gradient (it depends on a parameter and reaches the loss). */
  needs: boolean[];
}

/**
 * A gradient rule: emits backward nodes and returns, per input, its gradient value (exactly the
 * input's shape) or null where it cannot or need not give one. Forward values are reused by name.
 */
export type GradRule = (a: RuleArgs) => (string | null)[];
