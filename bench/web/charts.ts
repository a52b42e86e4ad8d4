/** Two live uPlot line charts (online error and latency per batch), one series per run. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const palette = ['#2456c8', '#d1495b', '#00798c', '#edae49', '#66a182', '#8d6a9f', '#30343f'];

export interface Series {
  label: string;
  /** x: images seen; y per chart. */
  x: number[];
  error: number[];
  latency: number[];
}

export class LiveCharts {
  private error: uPlot | null = null;
  private latency: uPlot | null = null;

  constructor(
    private readonly errorEl: HTMLElement,
    private readonly latencyEl: HTMLElement,
  ) {}

  /** Rebuilds both charts for these series (a run started or finished). */
  reset(series: Series[]): void {
    this.error?.destroy();
    this.latency?.destroy();
    const width = Math.max(320, Math.min(540, this.errorEl.clientWidth || 520));
    const make = (el: HTMLElement, unit: string) =>
      new uPlot(
        {
          width,
          height: 260,
          scales: { x: { time: false } },
          axes: [{ label: 'images seen' }, { label: unit }],
          series: [{ label: 'images' }, ...series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], width: 2, spanGaps: true }))],
        },
        [[]],
        el,
      );
    this.error = make(this.errorEl, 'error %');
    this.latency = make(this.latencyEl, 'ms');
    this.update(series);
  }

  /** New points: the union of x values, each series aligned to it. */
  update(series: Series[]): void {
    if (!this.error || !this.latency) return;
    const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
    const align = (pick: (s: Series) => number[]) =>
      series.map((s) => {
        const at = new Map(s.x.map((x, i) => [x, pick(s)[i]]));
        return xs.map((x) => at.get(x) ?? null);
      });
    this.error.setData([xs, ...align((s) => s.error)] as uPlot.AlignedData);
    this.latency.setData([xs, ...align((s) => s.latency)] as uPlot.AlignedData);
  }
}
