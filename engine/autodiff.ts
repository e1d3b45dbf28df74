// Reverse-mode autodiff. apply() runs an op's forward from the op table and, when gradients
// are being recorded and an input requires them, records a GradNode on the output.
// backward() walks the recorded graph in reverse topological order and calls each op's
// vector-Jacobian product, accumulating into the .grad of leaves.

import { opTable, type OpAttrs, type OpName } from './ops/table.js';
import { isGradEnabled, noGrad } from './scope.js';
import { fmtShape, sameShape } from './shape.js';
import { registerBackward, type Tensor } from './tensor.js';
import { fillLike, addRaw } from './ops/kernel.js';

/** Runs op `name` and records it for backward when needed. */
export function apply<K extends OpName>(name: K, inputs: Tensor[], attrs: OpAttrs[K]): Tensor {
  for (const t of inputs) {
    if (t.disposed) throw new Error(`${name}: input ${t.toString()} was disposed`);
    if (t.backend !== inputs[0].backend) {
      throw new Error(`${name}: inputs live on different backends (${inputs[0].backend.name} and ${t.backend.name})`);
    }
  }
  const def = opTable[name];
  const { out, saved } = def.forward(inputs, attrs);
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op: name, inputs, attrs, saved: saved ?? [] };
  } else if (saved) {
    for (const s of saved) s.dispose();
  }
  return out;
}

/**
 * Back-propagates from `root`. A non-scalar root needs a seed gradient of its shape.
 * Gradients of leaves (requiresGrad tensors not produced by an op) are added to their .grad.
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) {
    throw new Error(`backward: ${root.toString()} does not require grad (no input of its graph has requiresGrad)`);
  }
  if (seed && !sameShape(seed.shape, root.shape)) {
    throw new Error(`backward: seed gradient ${fmtShape(seed.shape)} does not match output ${fmtShape(root.shape)}`);
  }
  if (!seed && root.size !== 1) {
    throw new Error(
      `backward: output has shape ${fmtShape(root.shape)} (${root.size} elements); ` +
        'pass a seed gradient of that shape, e.g. backward(ones) for a non-scalar output',
    );
  }
  const order = topoOrder(root);
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, seed ?? fillLike(root, 1));
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      const node = t.node;
      if (!node) {
        t.grad = t.grad ? addRaw(t.grad, g) : g;
        continue;
      }
      const def = opTable[node.op as OpName] as { backward: (g: Tensor, ctx: BackwardContext) => (Tensor | null)[] };
      const takeAccumulated = (k: number): Tensor | null => {
        const input = node.inputs[k];
        const prev = input?.requiresGrad ? grads.get(input) : undefined;
        if (!prev) return null;
        grads.delete(input);
        return prev;
      };
      const inputGrads = def.backward(g, { inputs: node.inputs, output: t, attrs: node.attrs, saved: node.saved, takeAccumulated });
      node.inputs.forEach((input, k) => {
        const ig = inputGrads[k];
        if (!ig || !input.requiresGrad) return;
        if (!sameShape(ig.shape, input.shape)) {
          throw new Error(`backward of ${node.op}: gradient ${fmtShape(ig.shape)} for input ${k} of shape ${fmtShape(input.shape)}`);
        }
        const prev = grads.get(input);
        grads.set(input, prev ? addRaw(prev, ig) : ig);
      });
    }
  });
}

/** What an op's backward receives besides the output gradient. */
export interface BackwardContext<A = unknown> {
  inputs: Tensor[];
  output: Tensor;
  attrs: A;
  saved: Tensor[];
  /**
   * The gradient accumulated so far for input k (from consumers processed earlier), handed over:
   * a backward that takes it must return the sum (its own contribution + this), which lets it fuse
   * the accumulation into a kernel it runs anyway (fusedLinear: the residual epilogue of dX's matmul).
   * Null when nothing has accumulated yet.
   */
  takeAccumulated?: (k: number) => Tensor | null;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: BERT-large graphs are deep enough to overflow recursion.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const input of t.node?.inputs ?? []) if (input.requiresGrad && !visited.has(input)) stack.push([input, false]);
  }
  return order;
}

registerBackward(backward);
