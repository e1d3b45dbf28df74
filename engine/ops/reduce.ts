// Reductions over a set of axes: sum (with a scale, so mean is one kernel) and max.
// Each run of adjacent reduced axes is one 'reduce' kernel over x viewed as [outer, len, inner].

import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { runKernel1 } from './kernel.js';
import type { OpAttrs, OpDef } from './table.js';
import * as F from './api.js';

/** Reduces `axes` (sorted, unique) of x; returns the keepdim-shaped result. */
function reduceAxes(x: Tensor, axes: number[], op: 'sum' | 'max', scale: number): Tensor {
  let cur = x;
  let shape = [...x.shape];
  // Group adjacent axes; reduce the groups from last to first so earlier indices stay valid.
  const groups: [number, number][] = [];
  for (const a of axes) {
    const last = groups[groups.length - 1];
    if (last && last[1] === a) last[1] = a + 1;
    else groups.push([a, a + 1]);
  }
  for (let gi = groups.length - 1; gi >= 0; gi--) {
    const [lo, hi] = groups[gi];
    const outer = sizeOf(shape.slice(0, lo));
    const len = sizeOf(shape.slice(lo, hi));
    const inner = sizeOf(shape.slice(hi));
    const newShape = shape.map((d, i) => (i >= lo && i < hi ? 1 : d));
    // Apply the scale once, on the first kernel.
    const s = gi === groups.length - 1 ? scale : 1;
    const next = runKernel1({ kind: 'reduce', op, outer, len, inner, scale: s }, [cur], newShape);
    if (cur !== x) cur.dispose();
    cur = next;
    shape = newShape;
  }
  return cur;
}

function dropAxes(shape: readonly number[], axes: number[]): number[] {
  return shape.filter((_, i) => !axes.includes(i));
}

export const reduceOps: {
  sum: OpDef<OpAttrs['sum']>;
  max: OpDef<OpAttrs['max']>;
} = {
  sum: {
    forward: ([x], { axes, keepdim, scale }) => {
      const r = reduceAxes(x, axes, 'sum', scale);
      if (keepdim) return { out: r };
      const out = r.view(dropAxes(x.shape, axes));
      r.dispose();
      return { out };
    },
    backward: (g, { inputs: [x], attrs: { axes, scale } }) => {
      const kept = F.reshape(g, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
      const e = F.expand(kept, [...x.shape]);
      return [scale === 1 ? e : F.mul(e, scale)];
    },
  },
  max: {
    forward: ([x], { axes, keepdim }) => {
      const r = reduceAxes(x, axes, 'max', 1);
      if (keepdim) return { out: r };
      const out = r.view(dropAxes(x.shape, axes));
      r.dispose();
      return { out };
    },
    // The gradient is shared equally among the positions that attain the maximum.
    backward: (g, { inputs: [x], output, attrs: { axes } }) => {
      const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const mask = F.eq(x, F.reshape(output, keptShape));
      const count = F.sum(mask, axes, true);
      return [F.mul(mask, F.div(F.reshape(g, keptShape), count))];
    },
  },
};
