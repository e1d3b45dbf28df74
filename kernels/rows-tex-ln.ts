// Layernorm family, strategies 'serial-tex' and 'serial-image' (see kernels/rows-tex.ts for the
// texture layout and the cost model on llvmpipe). One invocation per R consecutive rows (LN_FWD_R, LN_BWD_R), walked in
// lockstep so that every gamma texel fetched serves R rows.
//
// Column alignment: gamma/beta are indexed by column, the flat [rows, len] data by element; when
// len % 4 != 0 a row starts at any offset o = base & 3 inside a texel. Row data are therefore read
// as column chunks through a sliding window (chunk j = shift4(texel q+j, texel q+j+1, o): one fetch
// per chunk), and results are shifted back (ushift4) into whole output texels, stored when they lie
// wholly inside the row; the boundary texels' elements are written by a 'fix' kernel (one invocation
// per row, element-wise gathers), as for the other row kernels. Both kernels are always warmed.
//
// layernorm: one pass of shifted sums (K = the row's first element: sum d, sum d^2 with d = x - K;
// exact for constant rows and insensitive to a common offset), then the output pass.
// layernormBackward: one pass for the row sums (mean of g = dy * gamma and of g * xhat), then one
// pass that writes dx and accumulates the group's partial dgamma/dbeta columns (LN_BWD_R rows each)
// into a temporary laid out column-major ([chunk][group], so the column kernel reads each column as
// one contiguous stream); a column kernel then sums the groups in order (deterministic).
// Work O(rows * len); depth O(len) per row group, O(rows / LN_BWD_R) for the column sums.

import type { KernelSpec } from '../engine/backend/spec.js';
import { entry, inp, out, source, storage, tex, tmp, type Access, type BufRef, type KernelPlan, type KernelSource, ceilDiv } from './common.js';
import {
  ROW_HEAD, SERIAL_WG, helpers, rowLayout, rowTexels, shiftOf, texInput, textureSteps, type TexAccess, type TexOptions,
} from './rows-tex.js';

/**
 * Rows per invocation. Forward: 1 (measured: more rows per lane did not pay for the shared gamma/beta
 * fetches, and slowed long rows). Backward: 4 (each group writes one partial dgamma/dbeta texel per
 * column chunk, so the partials cost 2/LN_BWD_R stores per texel and the column sums 2/LN_BWD_R fetches).
 */
export const LN_FWD_R = 1;
export const LN_BWD_R = 4;
const rs = (R: number) => Array.from({ length: R }, (_, i) => i);

const LN_HELPERS = `
// Elements 4j+o .. 4j+o+3 of the pair of texels (a, b): column chunk of a row starting at offset o.
fn shift4(a: vec4<f32>, b: vec4<f32>, o: u32) -> vec4<f32> {
  return select(select(select(a, vec4<f32>(a.yzw, b.x), o == 1u), vec4<f32>(a.zw, b.xy), o == 2u), vec4<f32>(a.w, b.xyz), o == 3u);
}
// The texel whose lanes >= o are chunk c's first lanes and lanes < o chunk p's last ones.
fn ushift4(p: vec4<f32>, c: vec4<f32>, o: u32) -> vec4<f32> {
  return select(select(select(c, vec4<f32>(p.w, c.xyz), o == 1u), vec4<f32>(p.zw, c.xy), o == 2u), vec4<f32>(p.yzw, c.x), o == 3u);
}
`;

/** Group prologue: per row i, rw_i (clamped row), ok_i (row exists), base_i, end_i, q_i, o_i. */
const GROUP_HEAD = (R: number) => `  let g0 = gid * ${R}u;
  if (g0 >= u.rows) { return; }
${rs(R).map((i) => `  let rw${i} = min(g0 + ${i}u, u.rows - 1u);
  let ok${i} = g0 + ${i}u < u.rows;
  let base${i} = rw${i} * u.len;
  let end${i} = base${i} + u.len;
  let q${i} = base${i} >> 2u;
  let o${i} = base${i} & 3u;`).join('\n')}`;

/** Loop over column chunks j = 0..nc (one past the last: it flushes the last output texel). */
const CHUNK_LOOP = (body: string) => `for (var j = 0u; j <= u.nc; j = j + 1u) {
    let cok = (vec4<u32>(4u * j) + IDX4) < vec4<u32>(u.len);
${body}
  }`;
/** Sliding window of texture `name` for row i: declares w_name_i (texel q_i) before the loop. */
const winInit = (name: string, R: number) => rs(R).map((i) => `  var w_${name}${i} = ldt_${name}(q${i});`).join('\n');
/** Inside the loop: c_name_i = column chunk j of row i. */
const winStep = (name: string, R: number) => rs(R).map((i) => `    let n_${name}${i} = ldt_${name}(q${i} + j + 1u);
    let c_${name}${i} = shift4(w_${name}${i}, n_${name}${i}, o${i});
    w_${name}${i} = n_${name}${i};`).join('\n');
/** Inside the loop: stores output texel q_i + j of `arr` from chunk value `v_i` (prev in p_arr_i). */
const outStep = (arr: string, v: (i: number) => string, R: number) => rs(R).map((i) => `    let y_${arr}${i} = ${v(i)};
    let t_${arr}${i} = ushift4(p_${arr}${i}, y_${arr}${i}, o${i});
    if (ok${i} && all(lanes(q${i} + j, base${i}, end${i}))) { ${arr}[q${i} + j] = t_${arr}${i}; }
    p_${arr}${i} = y_${arr}${i};`).join('\n');
const outInit = (arr: string, R: number) => rs(R).map((i) => `  var p_${arr}${i} = vec4<f32>(0.0);`).join('\n');

/**
 * Fix kernel: one invocation per row, writing the row's elements in its (at most two) boundary texels.
 * `load` defines the row scalars, `pre` runs per texel (vars t, ok, ev, col), `outs` are [array, vec4 value].
 */
function fixSource(decl: string, load: string, pre: string, outs: readonly (readonly [string, string])[]): string {
  return decl + entry(SERIAL_WG, `${ROW_HEAD}
${load}
  let tl = (end - 1u) >> 2u;
  for (var jj = 0u; jj < 2u; jj = jj + 1u) {
    let t = select(t0, tl, jj == 1u);
    let ok = lanes(t, base, end);
    if ((jj == 0u || tl != t0) && !all(ok)) {
      let ev = vec4<u32>(4u * t) + IDX4;
      let col = min(ev - vec4<u32>(base), vec4<u32>(u.len - 1u));
${pre}
${outs.map(([arr, value], k) => `      let v${k} = ${value};
      if (ok.x) { ${arr}[ev.x] = v${k}.x; }
      if (ok.y) { ${arr}[ev.y] = v${k}.y; }
      if (ok.z) { ${arr}[ev.z] = v${k}.z; }
      if (ok.w) { ${arr}[ev.w] = v${k}.w; }`).join('\n')}
    }
  }`);
}
/** vec4 of column elements of texture `name` at cols `col` (gathers, for the fix kernels). */
const gath = (name: string) => `vec4<f32>(ld1_${name}(col.x), ld1_${name}(col.y), ld1_${name}(col.z), ld1_${name}(col.w))`;

const vec = 'vec4<f32>' as 'f32';

// ---- layernorm, layernormResidual ---------------------------------------------------------------

/** Texels per block of the layernorm statistics. */
const LN_BLOCK = 16;

/**
 * Row statistics in one texel-aligned pass: blocks of LN_BLOCK texels are summed shifted by their own
 * first element (sum d, sum d^2, d = x - K_b), then merged in order into (n, mean, M2) with Chan's
 * formula. Shifting by an element of the block bounds the cancellation in M2_b = sum d^2 - (sum d)^2 / c
 * to a factor of the block size (4 * LN_BLOCK elements), whatever the row's offset, outliers or trend,
 * at the cost of one element fetch and a division per block. `val(t)` is the vec4 of texel t,
 * `val1(e)` element e; `pre(i)` runs after xv_i (texel t_i's values) is known. Defines mu_i, r_i and
 * stores them.
 */
const LN_STATS = (R: number, val: (t: string) => string, val1: (e: string) => string, pre: (i: number) => string = () => '') => `${rs(R).map((i) => `  var n_${i} = 0.0;
  var m_${i} = 0.0;
  var q2_${i} = 0.0;`).join('\n')}
  for (var b = 0u; b < u.nt; b = b + ${LN_BLOCK}u) {
    let be = min(b + ${LN_BLOCK}u, u.nt);
${rs(R).map((i) => `    let kb${i} = ${val1(`max(base${i}, 4u * (q${i} + b))`)};
    var s1_${i} = vec4<f32>(0.0);
    var s2_${i} = vec4<f32>(0.0);`).join('\n')}
    for (var i = b; i < be; i = i + 1u) {
${rs(R).map((i) => `      let t${i} = q${i} + i;
      let okt${i} = lanes(t${i}, base${i}, end${i});
      let xv${i} = ${val(`t${i}`)};
${pre(i)}
      let d${i} = select(vec4<f32>(0.0), xv${i} - vec4<f32>(kb${i}), okt${i});
      s1_${i} = s1_${i} + d${i};
      s2_${i} = s2_${i} + d${i} * d${i};`).join('\n')}
    }
${rs(R).map((i) => `    let c${i} = f32(min(end${i}, 4u * (q${i} + be)) - min(end${i}, max(base${i}, 4u * (q${i} + b))));
    if (c${i} > 0.0) {
      let a1 = hsum(s1_${i});
      let nn = n_${i} + c${i};
      let dl = (kb${i} + a1 / c${i}) - m_${i};
      m_${i} = m_${i} + dl * (c${i} / nn);
      q2_${i} = q2_${i} + (hsum(s2_${i}) - a1 * (a1 / c${i})) + dl * dl * (n_${i} * c${i} / nn);
      n_${i} = nn;
    }`).join('\n')}
  }
${rs(R).map((i) => `  let mu${i} = m_${i};
  let r${i} = 1.0 / sqrt(max(q2_${i}, 0.0) / f32(u.len) + u.eps);
  if (ok${i}) { mean[rw${i}] = mu${i}; rstd[rw${i}] = r${i}; }`).join('\n')}`;

function lnSources(residual: boolean, ta: TexAccess): { main: KernelSource; fix: KernelSource } {
  const R = LN_FWD_R;
  const texs = residual ? ['x', 'res', 'gamma', 'beta'] : ['x', 'gamma', 'beta'];
  const nt = texs.length;
  const decl = (yType: 'vec4<f32>' | 'f32', statAccess: 'read' | 'write') => helpers(ta) + LN_HELPERS +
    texs.map((n) => texInput(texs.indexOf(n), n, n === 'gamma' || n === 'beta' ? 'sg' : 'sx', ta)).join('') +
    storage(nt, yType === 'f32' ? 'y1' : 'y', yType as 'f32', 'write') + storage(nt + 1, 'mean', 'f32', statAccess) +
    storage(nt + 2, 'rstd', 'f32', statAccess) + (residual ? storage(nt + 3, yType === 'f32' ? 's1' : 's', yType as 'f32', 'write') : '') +
    rowLayout.wgsl(nt + (residual ? 4 : 3));
  const key = residual ? 'layernormResidual' : 'layernorm';
  const val = (t: string) => (residual ? `(ldt_x(${t}) + ldt_res(${t}))` : `ldt_x(${t})`);
  const val1 = (e: string) => (residual ? `(ld1_x(${e}) + ld1_res(${e}))` : `ld1_x(${e})`);
  // Residual: the stats pass also stores s = x + res (texel-aligned, interior texels).
  const sStore = (i: number) => (residual ? `    if (ok${i} && all(okt${i})) { s[t${i}] = xv${i}; }` : '');
  const bindings: Access[] = [...texs.map(() => ta), 'write'];
  const main = source(`${key}:${ta}`, () => ({
    wgsl: decl(vec, 'write') + entry(SERIAL_WG, `${GROUP_HEAD(R)}
${LN_STATS(R, val, val1, sStore)}
  if ((u.len & 3u) == 0u) {
    // Rows start on a texel: texel j of the row is column chunk j (no window, no lane masks).
    for (var j = 0u; j < u.nc; j = j + 1u) {
      let ga = ldt_gamma(j);
      let be = ldt_beta(j);
${rs(R).map((i) => `      if (ok${i}) {
        let t = q${i} + j;
        y[t] = (${val('t')} - vec4<f32>(mu${i})) * r${i} * ga + be;
      }`).join('\n')}
    }
    return;
  }
${winInit('x', R)}
${residual ? winInit('res', R) : ''}
${outInit('y', R)}
  ${CHUNK_LOOP(`    let ga = ldt_gamma(j);
    let be = ldt_beta(j);
${winStep('x', R)}
${residual ? winStep('res', R) : ''}
${outStep('y', (i) => `((c_x${i}${residual ? ` + c_res${i}` : ''}) - vec4<f32>(mu${i})) * r${i} * ga + be`, R)}`)}`),
    bindings: [...bindings, 'write', 'write', ...(residual ? ['write' as const] : [])], uniform: rowLayout,
  }));
  const fix = source(`${key}:${ta}:fix`, () => ({
    wgsl: fixSource(decl('f32', 'read'), '  let mu = mean[row];\n  let r = rstd[row];',
      `      let xs = ${residual ? 'ldt_x(t) + ldt_res(t)' : 'ldt_x(t)'};`,
      [['y1', `(xs - vec4<f32>(mu)) * r * ${gath('gamma')} + ${gath('beta')}`], ...(residual ? [['s1', 'xs'] as const] : [])]),
    bindings: [...bindings, 'read', 'read', ...(residual ? ['write' as const] : [])], uniform: rowLayout,
  }));
  return { main, fix };
}

function lnPlan(residual: boolean, rows: number, len: number, eps: number, o: TexOptions): KernelPlan | null {
  const n = rows * len;
  if (n < 4) return null;
  const ins: BufRef[] = residual ? [inp(0), inp(1), inp(2), inp(3)] : [inp(0), inp(1), inp(2)];
  const textures = textureSteps(ins.map((from, i) => ({ from, elements: i >= ins.length - 2 ? len : n })), o.maxTexDim);
  if (!textures) return null;
  const { main, fix } = lnSources(residual, o.tex);
  const u = { rows, len, nt: rowTexels(rows, len), sx: shiftOf(textures[0]!), sg: shiftOf(textures[ins.length - 1]!), nc: ceilDiv(len, 4), eps, ignore: 0 };
  const texRefs = ins.map((_, i) => tex(i));
  const outs = residual ? [out(0), out(1), out(2), out(3)] : [out(0), out(1), out(2)];
  const steps = [{ source: main, bind: [...texRefs, ...outs], uniforms: u, workgroups: ceilDiv(ceilDiv(rows, LN_FWD_R), SERIAL_WG) }];
  if (len % 4 !== 0) steps.push({ source: fix, bind: [...texRefs, ...outs], uniforms: u, workgroups: ceilDiv(rows, SERIAL_WG) });
  return { temps: [], textures, warm: [main, fix], steps };
}

type LayernormSpec = Extract<KernelSpec, { kind: 'layernorm' }>;
export function layernormTexPlan(spec: LayernormSpec, o: TexOptions): KernelPlan | null {
  return lnPlan(false, spec.rows, spec.len, spec.eps, o);
}

type LayernormResidualSpec = Extract<KernelSpec, { kind: 'layernormResidual' }>;
export function layernormResidualTexPlan(spec: LayernormResidualSpec, o: TexOptions): KernelPlan | null {
  return lnPlan(true, spec.rows, spec.len, spec.eps, o);
}

// ---- layernormBackward ----------------------------------------------------------------------------

// in: [x, gamma, mean, rstd, dy]; out: [dx, dgamma, dbeta]. Textures: x, dy, gamma, then the partials;
// temps: the fix scalars (mg, mgx per row) and the partial dgamma | dbeta texels, each half laid out
// [chunk j = 0..nc][group] (column-major: the column kernel reads one contiguous run per chunk).
// Memoised per texture kind (the kind is also in every source key).
const bwdSources = (() => {
  const cache = new Map<TexAccess, { main: KernelSource; fix: KernelSource; cols: KernelSource }>();
  return (ta: TexAccess) => {
    const hit = cache.get(ta);
    if (hit) return hit;
    const R = LN_BWD_R;
    const decl = (dxType: 'vec4<f32>' | 'f32', stAccess: 'read' | 'write') => helpers(ta) + LN_HELPERS + texInput(0, 'x', 'sx', ta) +
      texInput(1, 'dy', 'sx', ta) + texInput(2, 'gamma', 'sg', ta) + storage(3, 'mean', 'f32', 'read') + storage(4, 'rstd', 'f32', 'read') +
      storage(5, dxType === 'f32' ? 'dx1' : 'dx', dxType as 'f32', 'write') + storage(6, 'st', 'f32', stAccess);
    const main = source(`layernormBackward:${ta}`, () => ({
      wgsl: decl(vec, 'write') + storage(7, 'part', vec, 'write') + rowLayout.wgsl(8) + entry(SERIAL_WG, `${GROUP_HEAD(R)}
  let n = f32(u.len);
${rs(R).map((i) => `  let mu${i} = mean[rw${i}];
  let r${i} = rstd[rw${i}];
  var a1_${i} = vec4<f32>(0.0);
  var a2_${i} = vec4<f32>(0.0);`).join('\n')}
  let ng = (u.rows + ${R - 1}u) / ${R}u;
  let half = ng * (u.nc + 1u);
  if ((u.len & 3u) == 0u) {
    // Rows start on a texel: texel j of a row is column chunk j (no window, no lane masks); the same
    // sums in the same order as the general path below, whose chunks past the row add zeros.
    for (var j = 0u; j < u.nc; j = j + 1u) {
      let ga = ldt_gamma(j);
${rs(R).map((i) => `      let g${i} = ldt_dy(q${i} + j) * ga;
      a1_${i} = a1_${i} + g${i};
      a2_${i} = a2_${i} + g${i} * (ldt_x(q${i} + j) - vec4<f32>(mu${i})) * r${i};`).join('\n')}
    }
${rs(R).map((i) => `    let mg${i} = hsum(a1_${i}) / n;
    let mgx${i} = hsum(a2_${i}) / n;
    if (ok${i}) { st[2u * rw${i}] = mg${i}; st[2u * rw${i} + 1u] = mgx${i}; }`).join('\n')}
    for (var j = 0u; j < u.nc; j = j + 1u) {
      let ga = ldt_gamma(j);
      var pg = vec4<f32>(0.0);
      var pb = vec4<f32>(0.0);
${rs(R).map((i) => `      let dy${i} = ldt_dy(q${i} + j);
      let xh${i} = (ldt_x(q${i} + j) - vec4<f32>(mu${i})) * r${i};
      pg = pg + select(vec4<f32>(0.0), dy${i} * xh${i}, ok${i});
      pb = pb + select(vec4<f32>(0.0), dy${i}, ok${i});
      if (ok${i}) { dx[q${i} + j] = r${i} * (dy${i} * ga - vec4<f32>(mg${i}) - xh${i} * mgx${i}); }`).join('\n')}
      part[j * ng + gid] = pg;
      part[half + j * ng + gid] = pb;
    }
    return;
  }
${winInit('x', R)}
${winInit('dy', R)}
  for (var j = 0u; j < u.nc; j = j + 1u) {
    let cok = (vec4<u32>(4u * j) + IDX4) < vec4<u32>(u.len);
    let ga = ldt_gamma(j);
${winStep('x', R)}
${winStep('dy', R)}
${rs(R).map((i) => `    let g${i} = select(vec4<f32>(0.0), c_dy${i} * ga, cok);
    a1_${i} = a1_${i} + g${i};
    a2_${i} = a2_${i} + select(vec4<f32>(0.0), g${i} * (c_x${i} - vec4<f32>(mu${i})) * r${i}, cok);`).join('\n')}
  }
${rs(R).map((i) => `  let mg${i} = hsum(a1_${i}) / n;
  let mgx${i} = hsum(a2_${i}) / n;
  if (ok${i}) { st[2u * rw${i}] = mg${i}; st[2u * rw${i} + 1u] = mgx${i}; }
  w_x${i} = ldt_x(q${i});
  w_dy${i} = ldt_dy(q${i});`).join('\n')}
${outInit('dx', R)}
  ${CHUNK_LOOP(`    let ga = ldt_gamma(j);
${winStep('x', R)}
${winStep('dy', R)}
    var pg = vec4<f32>(0.0);
    var pb = vec4<f32>(0.0);
${rs(R).map((i) => `    let xh${i} = (c_x${i} - vec4<f32>(mu${i})) * r${i};
    let use${i} = cok & vec4<bool>(ok${i});
    pg = pg + select(vec4<f32>(0.0), c_dy${i} * xh${i}, use${i});
    pb = pb + select(vec4<f32>(0.0), c_dy${i}, use${i});`).join('\n')}
    part[j * ng + gid] = pg;
    part[half + j * ng + gid] = pb;
${outStep('dx', (i) => `r${i} * (c_dy${i} * ga - vec4<f32>(mg${i}) - xh${i} * mgx${i})`, R)}`)}`),
      bindings: [ta, ta, ta, 'read', 'read', 'write', 'write', 'write'], uniform: rowLayout,
    }));
    const fix = source(`layernormBackward:${ta}:fix`, () => ({
      wgsl: fixSource(decl('f32', 'read') + rowLayout.wgsl(7),
        '  let mu = mean[row];\n  let r = rstd[row];\n  let mg = st[2u * row];\n  let mgx = st[2u * row + 1u];',
        '      let xh = (ldt_x(t) - vec4<f32>(mu)) * r;',
        [['dx1', `r * (ldt_dy(t) * ${gath('gamma')} - vec4<f32>(mg) - xh * mgx)`]]),
      bindings: [ta, ta, ta, 'read', 'read', 'write', 'read'], uniform: rowLayout,
    }));
    // Column sums of the partials: one invocation per column chunk, groups in order.
    const cols = source(`layernormBackward:${ta}:cols`, () => ({
      wgsl: helpers(ta) + texInput(0, 'part', 'sx', ta) + storage(1, 'dgamma', 'f32', 'write') + storage(2, 'dbeta', 'f32', 'write') +
        rowLayout.wgsl(3) + entry(SERIAL_WG, `  let j = gid;
  if (j >= u.nc) { return; }
  let ng = (u.rows + ${R - 1}u) / ${R}u;
  let half = ng * (u.nc + 1u);
  var sg = vec4<f32>(0.0);
  var sb = vec4<f32>(0.0);
  for (var g = 0u; g < ng; g = g + 1u) {
    sg = sg + ldt_part(j * ng + g);
    sb = sb + ldt_part(half + j * ng + g);
  }
  let c = 4u * j;
  let ok = (vec4<u32>(c) + IDX4) < vec4<u32>(u.len);
  if (ok.x) { dgamma[c] = sg.x; dbeta[c] = sb.x; }
  if (ok.y) { dgamma[c + 1u] = sg.y; dbeta[c + 1u] = sb.y; }
  if (ok.z) { dgamma[c + 2u] = sg.z; dbeta[c + 2u] = sb.z; }
  if (ok.w) { dgamma[c + 3u] = sg.w; dbeta[c + 3u] = sb.w; }`),
      bindings: [ta, 'write', 'write'], uniform: rowLayout,
    }));
    const built = { main, fix, cols };
    cache.set(ta, built);
    return built;
  };
})();

type LayernormBackwardSpec = Extract<KernelSpec, { kind: 'layernormBackward' }>;
export function layernormBackwardTexPlan(spec: LayernormBackwardSpec, o: TexOptions): KernelPlan | null {
  const { rows, len } = spec;
  const n = rows * len;
  if (n < 4) return null;
  const nc = ceilDiv(len, 4);
  const partTexels = 2 * ceilDiv(rows, LN_BWD_R) * (nc + 1);
  const fixed = len % 4 !== 0;
  const colsStep = fixed ? 2 : 1;
  const textures = textureSteps([
    { from: inp(0), elements: n }, { from: inp(4), elements: n }, { from: inp(1), elements: len },
    { from: tmp(1), elements: 4 * partTexels, before: colsStep },
  ], o.maxTexDim);
  if (!textures) return null;
  const { main, fix, cols } = bwdSources(o.tex);
  const u = { rows, len, nt: rowTexels(rows, len), sx: shiftOf(textures[0]!), sg: shiftOf(textures[2]!), nc, eps: 0, ignore: 0 };
  const bind = [tex(0), tex(1), tex(2), inp(2), inp(3), out(0), tmp(0)];
  const steps = [{ source: main, bind: [...bind, tmp(1)], uniforms: u, workgroups: ceilDiv(ceilDiv(rows, LN_BWD_R), SERIAL_WG) }];
  if (fixed) steps.push({ source: fix, bind, uniforms: u, workgroups: ceilDiv(rows, SERIAL_WG) });
  steps.push({ source: cols, bind: [tex(3), out(1), out(2)], uniforms: { ...u, sx: shiftOf(textures[3]!) }, workgroups: ceilDiv(nc, SERIAL_WG) });
  return { temps: [2 * rows, 4 * partTexels], textures, warm: [main, fix, cols], steps };
}
