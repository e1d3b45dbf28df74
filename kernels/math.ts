// WGSL special functions shared by the elementwise kernels. Built-ins are avoided where drivers are
// loose (tanh overflowing to NaN, pow undefined for x <= 0); every function here is float32 accurate.
//
// Accuracy (checked in float64 simulation of the f32 arithmetic):
//   erf_f:   |x| < 1: Cephes erff polynomial, relative error ~1.2e-7;
//            |x| >= 1: 1 - erfc, absolute error < 1e-7.
//   erfc_f:  Numerical Recipes erfcc (Chebyshev fit), relative error < 1.2e-7 in exact arithmetic,
//            ~4e-6 in f32 near x = 8 (rounding of -x*x inside exp), i.e. far below f32 resolution of erf.
//   tanh_f:  Cephes tanhf: |x| < 0.625 odd polynomial, else 1 - 2/(exp(2|x|)+1); relative error ~1.5e-7.
//   phi_f:   standard normal CDF from erf/erfc, relatively accurate in both tails.

import { isNan } from './common.js';

export const WGSL_MATH = /* wgsl */ `
fn erf_small(x: f32) -> f32 {
  let z = x * x;
  var p = 7.853861353153693e-5;
  p = p * z - 8.010193625184903e-4;
  p = p * z + 5.188327685732524e-3;
  p = p * z - 2.685381193529856e-2;
  p = p * z + 1.128358514861418e-1;
  p = p * z - 3.761262582423300e-1;
  p = p * z + 1.128379165726710;
  return x * p;
}
// erfc for z >= 0.
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  var p = 0.17087277;
  p = -0.82215223 + t * p;
  p = 1.48851587 + t * p;
  p = -1.13520398 + t * p;
  p = 0.27886807 + t * p;
  p = -0.18628806 + t * p;
  p = 0.09678418 + t * p;
  p = 0.37409196 + t * p;
  p = 1.00002368 + t * p;
  p = -1.26551223 + t * p;
  return t * exp(-z * z + p);
}
fn erf_f(x: f32) -> f32 {
  let a = abs(x);
  if (a < 1.0) { return erf_small(x); }
  let r = 1.0 - erfc_pos(a);
  return select(r, -r, x < 0.0);
}
// Standard normal CDF. Both approximations are evaluated and one selected: the values are those of
// branching on |z| < 1, but without the branches, which on SIMD CPUs (llvmpipe) run under lane masks
// anyway; measured 6% faster on a 4096x1024 matmul with the GELU epilogue.
fn phi_f(x: f32) -> f32 {
  let z = x * 0.70710678118654752;
  let a = abs(z);
  let inner = 0.5 + 0.5 * erf_small(clamp(z, -1.0, 1.0));
  let h = 0.5 * erfc_pos(a);
  return select(select(h, 1.0 - h, z > 0.0), inner, a < 1.0);
}
fn tanh_f(x: f32) -> f32 {
  if (${isNan('x')}) { return x; }
  let a = abs(x);
  if (a < 0.625) {
    let z = x * x;
    var p = -5.70498872745e-3;
    p = p * z + 2.06390887954e-2;
    p = p * z - 5.37397155531e-2;
    p = p * z + 1.33314422036e-1;
    p = p * z - 3.33332819422e-1;
    return p * z * x + x;
  }
  if (a > 10.0) { return sign(x); }
  let r = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
  return select(r, -r, x < 0.0);
}
// One exp for either sign (the branches ran both exps under lane masks on SIMD CPUs).
fn sigmoid_f(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
fn gelu_f(x: f32) -> f32 { return x * phi_f(x); }
fn gelu_grad_f(x: f32) -> f32 {
  // Phi(x) + x * phi(x), phi the standard normal density.
  if (abs(x) > 40.0) { return select(0.0, 1.0, x > 0.0); }
  return phi_f(x) + x * (0.3989422804014327 * exp(-0.5 * x * x));
}
// 0.5x(1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715x^3): no cancellation for x << 0.
// Selects instead of early returns (branches run under lane masks on SIMD CPUs anyway).
fn gelu_tanh_f(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return select(select(0.0, x, x > 0.0), x * sigmoid_f(2.0 * u), !(abs(x) > 20.0)); // NaN stays NaN
}
// d/dx: s + 2x s(1-s) u', s = sigmoid(2u), using 1 + tanh = 2s and 1 - tanh^2 = 4s(1-s); s and
// 1 - s = sigmoid(-2u) from one exp (each without cancellation). Measured on 2M elements: 7.1 -> 5.9 ms.
fn gelu_tanh_grad_f(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  let du = 0.7978845608028654 * (1.0 + 0.134145 * x * x);
  let e = exp(-abs(2.0 * u));
  let big = 1.0 / (1.0 + e);
  let small = e / (1.0 + e);
  let s = select(small, big, u >= 0.0);
  let s1 = select(big, small, u > 0.0);
  return select(select(0.0, 1.0, x > 0.0), s + 2.0 * x * s * s1 * du, !(abs(x) > 20.0));
}
// pow with JS semantics on the cases that matter: negative bases with integer exponents,
// zero bases, exponent 0 giving 1.
fn pow_f(x: f32, y: f32) -> f32 {
  // x ** NaN: NaN (the reference's Math.pow, also for 1 ** NaN); NaN ** 0 = 1, NaN ** y = NaN. The
  // NaN tests come first: a driver may compare a NaN as equal to anything.
  if (${isNan('y')}) { return y; }
  if (y == 0.0) { return 1.0; }
  if (${isNan('x')}) { return x; }
  if (y == 1.0) { return x; }
  if (y == 2.0) { return x * x; }
  if (y == -1.0) { return 1.0 / x; }
  if (y == 0.5 && x >= 0.0) { return sqrt(x); }
  let yOdd = floor(y) == y && floor(y * 0.5) != y * 0.5;
  if (x == 0.0) {
    // +-0 ** y: 0 for y > 0, inf for y < 0; the sign of -0 survives odd integer exponents.
    let r0 = select(inf_f32(), 0.0, y > 0.0);
    return select(r0, -r0, yOdd && (bitcast<u32>(x) >> 31u) == 1u);
  }
  let t = y * log2(abs(x));
  // (+-1) ** (+-inf) is inf * 0 = NaN here, as in the reference's Math.pow (and exp2(NaN) is inf on SwiftShader).
  if (${isNan('t')}) { return t; }
  let r = exp2(t);
  if (x < 0.0) {
    // A negative x with a non-integer y gives NaN, except -inf: inf for y > 0, 0 for y < 0.
    if (floor(y) != y && x != -inf_f32()) { return nan_f32(); }
    if (yOdd) { return -r; }
  }
  return r;
}
`;
