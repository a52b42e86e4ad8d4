/**
 * pnpm bench:engine — ms per batch of 64 on the embedded ResNet-20: plain InferenceSession vs
 * AdaptiveSession per method, on onnxruntime-node and onnxruntime-web (wasm), 1 and 2 threads.
 * Prints medians and the ratio adapted/plain as a Markdown table (a benchmark, not a test).
 * For the gradient methods (tent, eta, eata, sar) a cell is one full adaptation step: forward,
 * backward (in the same graph) and the optimizer update; sar runs two forward-backward passes.
 *
 * onnxruntime-node's spin-waiting is off (as in `edgetta bench`): the plain and the adapted session
 * each own a thread pool, and threads of one spinning after its run take the cores the other
 * needs (with spinning, plain inference at 2 threads measured as slow as at 1 thread here).
 *
 *   pnpm bench:engine [--runtimes node,web] [--threads 1,2] [--methods a,b] [--batch 64] [--iters 20] [--ort-spinning]
 */
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { AdaptiveSession, listMethods } from '@edgetta/sdk';
import { resolveEngine, type RuntimeName } from '@edgetta/engine';
import { embeddedModelPath, loadEmbeddedSample } from './embedded.js';
import { benchEngine } from './bench/engine.js';

const program = new Command()
  .option('--runtimes <list>', 'node,web', 'node,web')
  .option('--threads <list>', 'thread counts', '1,2')
  .option('--methods <list>', 'methods (default: all registered except dua, whose cost is per image)')
  .option('--batch <n>', 'batch size', '64')
  .option('--iters <n>', 'timed iterations per cell', '20')
  .option('--ort-spinning', "keep onnxruntime-node's spin-waiting on")
  .parse();
const o = program.opts<{ runtimes: string; threads: string; methods?: string; batch: string; iters: string; ortSpinning?: boolean }>();
const batch = Number(o.batch);
const iters = Number(o.iters);
const methods = o.methods ? o.methods.split(',') : listMethods().filter((m) => m !== 'dua');

const sample = loadEmbeddedSample();
const x = sample.toFloat32(0, batch);
const dims = [batch, 3, 32, 32];

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Times `a` and `b` in alternation, so that both medians come from the same stretch of time and
 * their ratio is robust to load drifting on a shared machine.
 */
async function timePair(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < 3; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < iters; i++) {
    let s = performance.now();
    await a();
    ta.push(performance.now() - s);
    s = performance.now();
    await b();
    tb.push(performance.now() - s);
  }
  return [median(ta), median(tb)];
}

const rows: string[] = ['| runtime | threads | method | plain ms / batch | method ms / batch | ratio |', '|---|---|---|---:|---:|---:|'];
for (const runtime of o.runtimes.split(',') as RuntimeName[]) {
  for (const threads of o.threads.split(',').map(Number)) {
    const { options } = await benchEngine(runtime, threads, !!o.ortSpinning);
    const engine = await resolveEngine(options);
    const plain = await engine.createSession(new Uint8Array(await import('node:fs').then((fs) => fs.readFileSync(embeddedModelPath))));
    const T = engine.ort.Tensor;
    const runPlain = () => plain.run({ input: new T('float32', x, dims) });
    for (const method of methods) {
      const s = await AdaptiveSession.create(embeddedModelPath, { ...options, method });
      let pair: [number, number];
      try {
        pair = await timePair(runPlain, () => s.run({ input: new T('float32', x, dims) }));
      } catch (e) {
        rows.push(`| ${runtime} | ${threads} | ${method} | | n/a: ${(e as Error).message.split(':')[0]} | |`);
        await s.dispose();
        continue;
      }
      const [plainMs, ms] = pair;
      rows.push(`| ${runtime} | ${threads} | ${method} | ${plainMs.toFixed(1)} | ${ms.toFixed(1)} | ${(ms / plainMs).toFixed(2)} |`);
      console.error(`${runtime} ${threads}t ${method} ${ms.toFixed(1)} ms vs plain ${plainMs.toFixed(1)} ms (${(ms / plainMs).toFixed(2)}x)`);
      await s.dispose();
    }
    await plain.release();
  }
}
console.log(`ResNet-20, batch ${batch}; plain InferenceSession and AdaptiveSession timed in alternation, medians of ${iters} runs each after 3 warm-up runs; onnxruntime-node spin-waiting ${o.ortSpinning ? 'on' : 'off'}\n`);
console.log(rows.join('\n'));
