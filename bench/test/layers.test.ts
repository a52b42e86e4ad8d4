/**
 * The workspace's dependency direction, read from every package.json and every source import:
 * leaves in `packages/`, methods in `adapters/`, the facade and the worker in `runtime/`, the
 * applications in `bench/` (docs/architecture.md). A package may depend only on packages of its
 * own folder group or a lower one, the production graph has no cycle, and every `@edgetta/*`
 * import in a package's `src/` is a declared dependency. Tests (devDependencies) may reach up to
 * run a package end to end through the facade; they never ship.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Folder groups, lowest first. `datasets` is a leaf library beside `packages`. */
const GROUPS: Record<string, number> = { packages: 0, datasets: 0, adapters: 1, runtime: 2, bench: 3 };

interface Pkg {
  name: string;
  dir: string;
  group: number;
  deps: string[];
}

function workspacePackages(): Pkg[] {
  const out: Pkg[] = [];
  const add = (dir: string, group: string) => {
    const file = path.join(root, dir, 'package.json');
    if (!fs.existsSync(file)) return;
    const p = JSON.parse(fs.readFileSync(file, 'utf8'));
    const deps = Object.keys({ ...p.dependencies, ...p.peerDependencies }).filter((d) => d.startsWith('@edgetta/'));
    out.push({ name: p.name, dir, group: GROUPS[group], deps });
  };
  for (const group of ['packages', 'adapters', 'runtime']) {
    for (const d of fs.readdirSync(path.join(root, group))) add(path.join(group, d), group);
  }
  add('datasets', 'datasets');
  add('bench', 'bench');
  return out;
}

function sourceFiles(dir: string): string[] {
  const src = path.join(root, dir, 'src');
  if (!fs.existsSync(src)) return [];
  return (fs.readdirSync(src, { recursive: true }) as string[]).filter((f) => /\.(ts|mts)$/.test(f)).map((f) => path.join(src, f));
}

const pkgs = workspacePackages();
const byName = new Map(pkgs.map((p) => [p.name, p]));

describe('workspace layers', () => {
  it('finds every workspace package', () => {
    expect(pkgs.length).toBeGreaterThanOrEqual(20);
    for (const p of pkgs) expect(p.group, p.dir).toBeTypeOf('number');
  });

  it('no package depends on a package of a higher folder group', () => {
    const upward: string[] = [];
    for (const p of pkgs) {
      for (const d of p.deps) {
        const q = byName.get(d);
        if (!q) upward.push(`${p.name} depends on ${d}, which is not a workspace package`);
        else if (q.group > p.group) upward.push(`${p.name} (${p.dir}) depends on ${d} (${q.dir}), a higher layer`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('adapters depend on the method contract only, never on each other', () => {
    const bad = pkgs.filter((p) => p.dir.startsWith('adapters')).flatMap((p) => p.deps.filter((d) => d !== '@edgetta/core').map((d) => `${p.name} -> ${d}`));
    expect(bad).toEqual([]);
  });

  it('the production dependency graph has no cycle', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (name: string, trail: string[]) => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(name)), name].join(' -> '));
        return;
      }
      state.set(name, 'visiting');
      for (const d of byName.get(name)?.deps ?? []) visit(d, [...trail, name]);
      state.set(name, 'done');
    };
    for (const p of pkgs) visit(p.name, []);
    expect(cycles).toEqual([]);
  });

  it("every @edgetta import in a package's src is one of its declared dependencies", () => {
    const undeclared: string[] = [];
    for (const p of pkgs) {
      for (const file of sourceFiles(p.dir)) {
        const text = fs.readFileSync(file, 'utf8');
        for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](@edgetta\/[a-z0-9-]+)/g)) {
          if (m[1] !== p.name && !p.deps.includes(m[1])) undeclared.push(`${path.relative(root, file)} imports ${m[1]}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
  });
});
