/** Two progress bars on stderr: the whole benchmark and the current domain (segment), each with an ETA. */
import cliProgress from 'cli-progress';
import type { ProgressSink } from './runner.js';

export function progressBars(stream: NodeJS.WritableStream & { isTTY?: boolean }): ProgressSink {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      hideCursor: true,
      etaBuffer: 200,
      fps: 5,
      // Redirected to a file (long runs under nohup): a snapshot every 30 s instead of redraws.
      noTTYOutput: true,
      notTTYSchedule: 30_000,
      clearOnComplete: false,
      format: '{name} {bar} {percentage}% | {value}/{total} | {label} | ETA {eta_formatted}',
    },
    cliProgress.Presets.shades_classic,
  );
  let overall: cliProgress.SingleBar | null = null;
  let domain: cliProgress.SingleBar | null = null;
  return {
    start(total) {
      overall = multi.create(total, 0, { name: 'overall', label: 'images (all methods and seeds)' });
    },
    segment(label, samples) {
      if (!domain) domain = multi.create(samples, 0, { name: 'domain ', label });
      // start() also restarts the ETA estimate for the new domain.
      else domain.start(samples, 0, { name: 'domain ', label });
    },
    advance(n) {
      overall?.increment(n);
      domain?.increment(n);
    },
    stop() {
      multi.stop();
    },
  };
}
