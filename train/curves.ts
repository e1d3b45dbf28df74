// Loss / metric curves as a hand-written SVG document (no browser, no dependency): one or more
// panels side by side, each with axes, "nice" ticks, grid lines, a legend and one polyline per
// series (markers for short series). Polylines carry data-series="name" so tests and tools can
// read the points back. Non-finite points break the line. Platform neutral.

import type { StatRecord } from './stats.js';

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
  dashed?: boolean;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel?: string;
  series: Series[];
}

export interface ChartOptions {
  title?: string;
  panelWidth?: number;
  panelHeight?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** About `count` round tick values covering [lo, hi] (1, 2, 5 x 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  const first = Math.ceil(lo / step - 1e-9);
  for (let i = first; i * step <= hi + step * 1e-9; i++) out.push(i === 0 ? 0 : Number((i * step).toFixed(Math.min(20, digits))));
  return out;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

function fmtCoord(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function renderPanel(p: Panel, x0: number, w: number, h: number, colorOffset: number): string {
  const m = { left: 62, right: 14, top: 30, bottom: 44 };
  const pw = w - m.left - m.right;
  const ph = h - m.top - m.bottom;
  const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const out: string[] = [`<g transform="translate(${x0},0)">`];
  out.push(`<text x="${m.left + pw / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(p.title)}</text>`);
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  if (pts.length === 0) {
    out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph / 2}" text-anchor="middle" font-size="12" fill="#888">no data</text></g>`);
    return out.join('\n');
  }
  let [xlo, xhi] = [Math.min(...pts.map((q) => q[0])), Math.max(...pts.map((q) => q[0]))];
  let [ylo, yhi] = [Math.min(...pts.map((q) => q[1])), Math.max(...pts.map((q) => q[1]))];
  if (xlo === xhi) [xlo, xhi] = [xlo - 1, xhi + 1];
  if (ylo === yhi) [ylo, yhi] = [ylo - (Math.abs(ylo) || 1) * 0.1, yhi + (Math.abs(yhi) || 1) * 0.1];
  const pad = (yhi - ylo) * 0.05;
  ylo -= pad;
  yhi += pad;
  const sx = (x: number) => m.left + ((x - xlo) / (xhi - xlo)) * pw;
  const sy = (y: number) => m.top + ph - ((y - ylo) / (yhi - ylo)) * ph;
  for (const t of niceTicks(xlo, xhi, 6)) {
    if (t < xlo || t > xhi) continue;
    out.push(`<line x1="${fmtCoord(sx(t))}" y1="${m.top}" x2="${fmtCoord(sx(t))}" y2="${m.top + ph}" stroke="#eee"/>`);
    out.push(`<text x="${fmtCoord(sx(t))}" y="${m.top + ph + 16}" text-anchor="middle" font-size="11">${fmtTick(t)}</text>`);
  }
  for (const t of niceTicks(ylo, yhi, 5)) {
    if (t < ylo || t > yhi) continue;
    out.push(`<line x1="${m.left}" y1="${fmtCoord(sy(t))}" x2="${m.left + pw}" y2="${fmtCoord(sy(t))}" stroke="#eee"/>`);
    out.push(`<text x="${m.left - 6}" y="${fmtCoord(sy(t) + 4)}" text-anchor="end" font-size="11">${fmtTick(t)}</text>`);
  }
  out.push(`<text x="${m.left + pw / 2}" y="${h - 8}" text-anchor="middle" font-size="12">${escapeXml(p.xLabel)}</text>`);
  if (p.yLabel) out.push(`<text x="14" y="${m.top + ph / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${m.top + ph / 2})">${escapeXml(p.yLabel)}</text>`);
  p.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[(i + colorOffset) % PALETTE.length];
    // Split at non-finite points so a NaN loss shows as a gap.
    const runs: [number, number][][] = [[]];
    for (const q of s.points) {
      if (Number.isFinite(q[0]) && Number.isFinite(q[1])) runs[runs.length - 1].push(q);
      else if (runs[runs.length - 1].length) runs.push([]);
    }
    const dash = s.dashed ? ' stroke-dasharray="6 3"' : '';
    for (const run of runs) {
      if (run.length === 0) continue;
      const pointsAttr = run.map(([x, y]) => `${fmtCoord(sx(x))},${fmtCoord(sy(y))}`).join(' ');
      out.push(`<polyline data-series="${escapeXml(s.name)}" fill="none" stroke="${color}" stroke-width="1.8"${dash} points="${pointsAttr}"/>`);
      if (run.length <= 60) for (const [x, y] of run) out.push(`<circle cx="${fmtCoord(sx(x))}" cy="${fmtCoord(sy(y))}" r="2.5" fill="${color}"/>`);
    }
    const ly = m.top + 14 + i * 16;
    out.push(`<line x1="${m.left + pw - 120}" y1="${ly - 4}" x2="${m.left + pw - 100}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${m.left + pw - 96}" y="${ly}" font-size="11">${escapeXml(s.name)}</text>`);
  });
  out.push('</g>');
  return out.join('\n');
}

/** A complete SVG document with the panels side by side. */
export function renderChart(panels: readonly Panel[], opts: ChartOptions = {}): string {
  const w = opts.panelWidth ?? 480;
  const h = opts.panelHeight ?? 320;
  const top = opts.title ? 26 : 0;
  const width = w * Math.max(1, panels.length);
  const parts = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h + top}" viewBox="0 0 ${width} ${h + top}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  if (opts.title) parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="15">${escapeXml(opts.title)}</text>`);
  parts.push(`<g transform="translate(0,${top})">`);
  let colors = 0;
  panels.forEach((p, i) => {
    parts.push(renderPanel(p, i * w, w, h, colors));
    colors += p.series.length;
  });
  parts.push('</g>', '</svg>', '');
  return parts.join('\n');
}

function numeric(r: StatRecord, k: string): number {
  const v = r[k];
  return typeof v === 'number' ? v : NaN;
}

/**
 * The trainer's chart: training loss per logged step (and eval loss per epoch, at the epoch's
 * last step) in one panel; every other numeric eval_* metric per epoch in a second panel.
 */
export function trainingCurves(steps: readonly StatRecord[], epochs: readonly StatRecord[], title?: string): string {
  const loss: Series[] = [{ name: 'train loss', points: steps.map((r) => [numeric(r, 'step'), numeric(r, 'loss')]) }];
  if (epochs.some((r) => typeof r.eval_loss === 'number')) {
    loss.push({ name: 'eval loss', points: epochs.map((r) => [numeric(r, 'step'), numeric(r, 'eval_loss')]), dashed: true });
  }
  const panels: Panel[] = [{ title: 'loss', xLabel: 'optimizer step', yLabel: 'loss', series: loss }];
  const metricKeys = [...new Set(epochs.flatMap((r) => Object.keys(r)))].filter((k) => k.startsWith('eval_') && k !== 'eval_loss' && epochs.some((r) => typeof r[k] === 'number'));
  if (metricKeys.length > 0) {
    panels.push({
      title: 'evaluation',
      xLabel: 'epoch',
      yLabel: 'metric',
      series: metricKeys.map((k) => ({ name: k.slice(5), points: epochs.map((r) => [numeric(r, 'epoch'), numeric(r, k)] as [number, number]) })),
    });
  }
  return renderChart(panels, { title });
}
