/**
 * Where a result came from: package versions (read from their package.json files), the git
 * commit of the checkout (when there is one), and the host.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Packages whose versions a result records (the method adapters are added by name). */
export const RECORDED_PACKAGES = [
  '@edgetta/bench',
  '@edgetta/sdk',
  '@edgetta/core',
  '@edgetta/compiler',
  '@edgetta/onnx',
  '@edgetta/engine',
  '@edgetta/datasets',
  'onnxruntime-node',
  'onnxruntime-web',
  'onnxruntime-common',
  'chart.js',
];

/**
 * The package.json of `name` as Node would find it from `from` (walking up node_modules folders),
 * without going through the package's `exports` map (which rarely exports package.json).
 */
function findPackageJson(name: string, from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const own = join(dir, 'package.json');
    if (existsSync(own)) {
      try {
        if ((JSON.parse(readFileSync(own, 'utf8')) as { name?: string }).name === name) return own;
      } catch {
        // not JSON: keep walking
      }
    }
    const candidate = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

/** name -> version for every package found; searched from bench, then from each found package's folder. */
export function packageVersions(names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const roots = [here];
  for (const name of names) {
    for (const root of roots) {
      const file = findPackageJson(name, root);
      if (!file) continue;
      out[name] = (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
      // Dependencies of a workspace package (e.g. the adapters of @edgetta/sdk) live beside it.
      if (!roots.includes(dirname(file))) roots.push(dirname(file));
      break;
    }
  }
  return out;
}

export interface GitInfo {
  commit: string;
  /** Uncommitted changes to tracked files. */
  dirty: boolean;
}

function git(args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd: here, timeout: 10_000 }, (err, stdout) => resolve(err ? null : stdout.trim()));
  });
}

/** The checkout's commit, or null outside a git repository or without git. */
export async function gitInfo(): Promise<GitInfo | null> {
  const commit = await git(['rev-parse', 'HEAD']);
  if (!commit) return null;
  const status = await git(['status', '--porcelain', '--untracked-files=no']);
  return { commit, dirty: status !== null && status !== '' };
}

export function hostInfo(): { node: string; platform: string; arch: string; cpus: number; cpuModel: string; memoryGB: number } {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
  };
}
