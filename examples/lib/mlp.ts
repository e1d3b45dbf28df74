// A two-layer MLP on a synthetic two-spirals task: the smallest real training loop, used by the
// demo and by the training test (loss must fall; no buffer may leak across steps).

import { F, Linear, Module, tensor, tidy, type Backend, type Optimizer, type Tensor } from '../../engine/index.js';
import { SeededRandom } from '../../engine/random.js';

export class MLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(inF: number, hidden: number, outF: number, backend: Backend) {
    super();
    this.fc1 = this.module('fc1', new Linear(inF, hidden, { backend, initStd: Math.sqrt(2 / inF) }));
    this.fc2 = this.module('fc2', new Linear(hidden, outF, { backend, initStd: Math.sqrt(1 / hidden) }));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(F.gelu(this.fc1.forward(x)));
  }
}

/** n points on two interleaved spirals: features [n, 2], labels [n] in {0, 1}. */
export function spirals(n: number, seed: number): { x: number[]; y: number[] } {
  const rng = new SeededRandom(seed);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const r = rng.next() * 2.5 + 0.3;
    const a = r * 2 + label * Math.PI + rng.normal() * 0.1;
    x.push(r * Math.cos(a), r * Math.sin(a));
    y.push(label);
  }
  return { x, y };
}

/** One SGD step on a batch; returns the loss tensor (kept, caller disposes). */
export function trainStep(model: MLP, opt: Optimizer, x: number[], y: number[], backend: Backend): Tensor {
  return tidy(() => {
    const xs = tensor(x, [y.length, 2], { backend });
    const ys = tensor(Int32Array.from(y), [y.length], { backend });
    const loss = F.crossEntropy(model.forward(xs), ys);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.detach();
  });
}
