/**
 * The Markdown table printed on stdout (and shared by the HTML report): rows = methods,
 * columns = domains + mean, cells = error % (mean ± std over seeds when there are several).
 */
import type { DomainTag } from '@edgetta/datasets';
import type { Spread, SummaryRow } from './results.js';

/** The usual short names of the corruptions (as in TTA papers' tables), for narrow displays. */
export const SHORT_NAMES: Readonly<Record<string, string>> = {
  gaussian_noise: 'gauss',
  shot_noise: 'shot',
  impulse_noise: 'impul',
  defocus_blur: 'defoc',
  glass_blur: 'glass',
  motion_blur: 'motn',
  zoom_blur: 'zoom',
  snow: 'snow',
  frost: 'frost',
  fog: 'fog',
  brightness: 'brit',
  contrast: 'contr',
  elastic_transform: 'elast',
  pixelate: 'pixel',
  jpeg_compression: 'jpeg',
  speckle_noise: 'speck',
  gaussian_blur: 'gblur',
  spatter: 'spatt',
  saturate: 'satur',
};

/** Column header of a domain: the corruption (short when `short`), with its severity when several severities are present. */
export function domainHeaders(domains: readonly DomainTag[], short = false): string[] {
  const severities = new Set(domains.map((d) => d.severity));
  const name = (c: string) => (short ? (SHORT_NAMES[c] ?? c) : c);
  return domains.map((d) => (severities.size > 1 ? `${name(d.corruption)} s${d.severity}` : name(d.corruption)));
}

export function formatSpread(s: Spread, digits = 1): string {
  return s.values.length > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}

export function tableCells(rows: readonly SummaryRow[], domains: readonly DomainTag[]): { header: string[]; body: string[][] } {
  const header = ['method', ...domainHeaders(domains), 'mean'];
  const body = rows.map((r) => [r.method, ...r.domains.map((d) => formatSpread(d.errorPct)), formatSpread(r.meanErrorPct)]);
  return { header, body };
}

export function markdownTable(rows: readonly SummaryRow[], domains: readonly DomainTag[]): string {
  const { header, body } = tableCells(rows, domains);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...body.map(line)].join('\n');
}
