import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function runDemo(args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', '--conditions=@edgetta/source', 'bench/src/demo.ts', ...args], { cwd: root, encoding: 'utf8' });
}

function table(out: string): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const m = /^\| ([a-z0-9+\-.]+) \| ([\d.]+) \|/.exec(line);
    if (m) rows[m[1]] = Number(m[2]);
  }
  return rows;
}

describe('pnpm demo (the README main job)', () => {
  it('under Gaussian noise severity 5, norm and alpha-bn reduce the error of source on the embedded sample', () => {
    const rows = table(runDemo(['--methods', 'source,norm,alpha-bn']));
    expect(Object.keys(rows)).toEqual(['source', 'norm', 'alpha-bn']);
    expect(rows.source).toBeGreaterThan(60); // the shift is real: ResNet-20 is 91.7 % accurate on clean data
    expect(rows.norm).toBeLessThan(rows.source - 20);
    expect(rows['alpha-bn']).toBeLessThan(rows.source - 10);
  });

  it('rejects a bad argument with a one-line error and exit code 2', () => {
    try {
      runDemo(['--severity', '7']);
      expect.unreachable('the demo accepted --severity 7');
    } catch (e) {
      const err = e as { status: number; stderr: string };
      expect(err.status).toBe(2);
      expect(err.stderr.trim()).toBe("demo: --severity: expected an integer 1-5, got '7'");
    }
  });
});
