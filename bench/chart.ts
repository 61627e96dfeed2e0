// `--chart FILE.svg`: a small hand-written SVG of rows/s (median) against batch size (log scale), one line per
// internal concurrency (and one for --direct), baselines as dashed horizontal lines. No dependency.
import { median, type Measured } from './measure.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chartSvg(title: string, results: readonly Measured[], rows: number): string {
  const W = 720;
  const H = 420;
  const L = 80;
  const R = 190;
  const T = 40;
  const B = 50;
  const series = new Map<string, { x: number; y: number }[]>();
  const concurrencies = new Set(results.flatMap((r) => (r.params ? [r.params.concurrency] : [])));
  for (const r of results) {
    if (!r.params) continue;
    const p = r.params;
    const name =
      (p.direct ? 'direct' : `internal ${p.internal}`) +
      (concurrencies.size > 1 ? `, files ${p.concurrency}` : '');
    const pts = series.get(name) ?? [];
    pts.push({ x: p.batchSize, y: rows / median(r.times) });
    series.set(name, pts);
  }
  const baselines = results
    .filter((r) => r.kind === 'baseline')
    .map((r) => ({ name: r.name, y: rows / median(r.times) }));
  const xs = [...series.values()].flat().map((p) => p.x);
  const ys = [...[...series.values()].flat().map((p) => p.y), ...baselines.map((b) => b.y)];
  if (xs.length === 0) return '';
  const x0 = Math.log10(Math.min(...xs)) - 0.1;
  const x1 = Math.log10(Math.max(...xs)) + 0.1;
  const y1 = Math.max(...ys) * 1.1;
  const px = (x: number): number => L + ((Math.log10(x) - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number): number => H - B - (y / y1) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="22" font-size="14">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">batch size (rows per sub-batch, log scale)</text>`,
    `<text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">rows/s (median)</text>`,
  ];
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(
      `<line x1="${px(x)}" y1="${H - B}" x2="${px(x)}" y2="${H - B + 5}" stroke="black"/>`,
      `<text x="${px(x)}" y="${H - B + 18}" text-anchor="middle">${x.toLocaleString('en-US')}</text>`,
    );
  }
  for (let k = 0; k <= 5; k++) {
    const y = (y1 / 5) * k;
    out.push(
      `<line x1="${L - 5}" y1="${py(y)}" x2="${W - R}" y2="${py(y)}" stroke="#ddd"/>`,
      `<text x="${L - 8}" y="${py(y) + 4}" text-anchor="end">${Math.round(y).toLocaleString('en-US')}</text>`,
    );
  }
  let i = 0;
  let ly = T + 10;
  const legend = (name: string, color: string, dash: boolean): void => {
    out.push(
      `<line x1="${W - R + 15}" y1="${ly}" x2="${W - R + 40}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ' stroke-dasharray="5,4"' : ''}/>`,
      `<text x="${W - R + 46}" y="${ly + 4}">${esc(name.length > 22 ? name.slice(0, 21) + '…' : name)}</text>`,
    );
    ly += 18;
  };
  for (const [name, pts] of series) {
    const color = COLORS[i++ % COLORS.length]!;
    pts.sort((a, b) => a.x - b.x);
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`,
      ...pts.map(
        (p) => `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${color}"/>`,
      ),
    );
    legend(name, color, false);
  }
  for (const b of baselines) {
    const color = COLORS[i++ % COLORS.length]!;
    out.push(
      `<line x1="${L}" y1="${py(b.y).toFixed(1)}" x2="${W - R}" y2="${py(b.y).toFixed(1)}" stroke="${color}" stroke-dasharray="5,4"/>`,
    );
    legend(b.name, color, true);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
