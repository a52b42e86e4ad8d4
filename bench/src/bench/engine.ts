/**
 * Engine options of the benchmark's sessions. With onnxruntime-node the benchmark turns the
 * intra-op thread pool's spin-waiting off by default: the corruption worker shares the two cores
 * with onnxruntime, and spinning threads take the CPU the worker needs (measured on this 2-core
 * machine: a batch of 64 with 2 threads and a busy neighbour thread took 2-3x longer spinning).
 */
import type { EngineOptions, OrtModule, RuntimeName } from '@edgetta/engine';

export interface BenchEngine {
  options: EngineOptions;
  /** What the manifest records about it. */
  spinning: boolean | null;
}

export async function benchEngine(runtime: RuntimeName, threads: number | undefined, spinning: boolean): Promise<BenchEngine> {
  if (runtime !== 'node') return { options: { runtime, threads }, spinning: null };
  if (spinning) return { options: { runtime, threads }, spinning: true };
  const ort = (await import('onnxruntime-node')) as unknown as OrtModule & Record<string, unknown>;
  const create = ort.InferenceSession.create.bind(ort.InferenceSession);
  // The same module, whose sessions get allow_spinning = 0 on top of the engine's own options.
  const node: OrtModule = {
    ...ort,
    Tensor: ort.Tensor,
    env: ort.env,
    InferenceSession: {
      create: (model, options) =>
        create(model, {
          ...options,
          extra: { ...(options?.extra as object), session: { ...((options?.extra as { session?: object })?.session ?? {}), intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
        }),
    },
  };
  return { options: { runtime, threads, modules: { node } }, spinning: false };
}
