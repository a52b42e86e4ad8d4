/**
 * Worker thread of {@link ../prefetch.ts}: corrupts the images of a stream's reads in stream order,
 * a bounded number ahead of the model, so corruption generation overlaps inference. Each read is
 * computed exactly as `corruptedSource` computes it (`imageRng(seed, c, s, i)` per image), so the
 * pixels are identical to the inline path.
 */
import { parentPort } from 'node:worker_threads';
import { corruptedSource, corrupt, type DomainTag, type ImageSource } from '@edgetta/datasets';
import { prepareCorruptions } from '@edgetta/datasets/node';
import type { FromWorker, ToWorker } from './prefetch-protocol.js';

const port = parentPort;
if (!port) throw new Error('corrupt-worker: must run in a worker thread');

let source: ImageSource | null = null;
let pass = -1;
let acked = 0;
let wake: (() => void) | null = null;

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

async function run(id: number, domains: DomainTag[], domainOf: Uint16Array, offsets: Int32Array, indices: Int32Array, ahead: number): Promise<void> {
  const src = source!;
  const px = src.height * src.width * 3;
  for (let seq = 0; seq < domainOf.length; seq++) {
    while (pass === id && seq - acked >= ahead) await new Promise<void>((r) => (wake = r));
    if (pass !== id) return;
    const idx = indices.subarray(offsets[seq], offsets[seq + 1]);
    const out = new Uint8Array(idx.length * px);
    await src.read(domains[domainOf[seq]], idx, out);
    post({ type: 'chunk', pass: id, seq, pixels: out }, [out.buffer]);
    // Let 'ack' and 'pass' messages in between reads.
    await new Promise((r) => setImmediate(r));
  }
}

port.on('message', (msg: ToWorker) => {
  void (async () => {
    try {
      if (msg.type === 'init') {
        if (msg.needsAssets) await prepareCorruptions();
        const { images, labels, count, height, width, numClasses } = msg;
        source = corruptedSource(
          { images, labels, count, height, width, numClasses, source: { format: 'cifar10', description: 'worker copy' } },
          { seed: msg.seed, corrupt },
        );
        post({ type: 'ready' });
      } else if (msg.type === 'pass') {
        pass = msg.pass;
        acked = 0;
        wake?.();
        await run(msg.pass, msg.domains, msg.domainOf, msg.offsets, msg.indices, msg.ahead);
      } else if (msg.type === 'ack') {
        if (msg.pass === pass) acked = Math.max(acked, msg.seq + 1);
        const w = wake;
        wake = null;
        w?.();
      }
    } catch (e) {
      post({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  })();
});
