// Reading the trainer's SVG back in tests: a well-formedness check and the polyline points.

import { escapeXml } from '../../train/curves.js';

/** Minimal XML well-formedness check: every start tag is closed in order. Returns the tag names. */
export function checkXml(svg: string): string[] {
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  const names: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([<>])/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) {
    if (m[5]) throw new Error(`stray '${m[5]}' at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    const [, close, name, , self] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      names.push(name);
      if (!self) stack.push(name);
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return names;
}

/** The points of the polylines named `series`, in data order (pixel coordinates). */
export function polylinePoints(svg: string, series: string): [number, number][] {
  const out: [number, number][] = [];
  const re = new RegExp(`<polyline data-series="${escapeXml(series)}"[^>]*points="([^"]*)"`, 'g');
  let m: RegExpExecArray | null;
  while ((m = re.exec(svg))) for (const p of m[1].split(' ')) out.push(p.split(',').map(Number) as [number, number]);
  return out;
}
