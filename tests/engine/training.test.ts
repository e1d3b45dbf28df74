// A small network trained with plain SGD on WebGPU: the loss falls by a stated factor, and the
// live-buffer count returns to its baseline after the steps (no leaks in forward, backward or update).

import { describe, expect, it } from 'vitest';
import { SGD, setSeed } from '../../engine/index.js';
import { MLP, spirals, trainStep } from '../../examples/lib/mlp.js';
import { getWebGPU } from '../helpers/webgpu.js';

describe('training a 2-layer MLP with SGD on WebGPU', () => {
  it('reduces the loss at least 10x in 60 steps and leaks no buffers', async () => {
    const backend = await getWebGPU();
    setSeed(1);
    const model = new MLP(2, 64, 2, backend);
    const opt = new SGD(model.parameters(), { lr: 0.5 });
    const data = spirals(512, 7);
    const losses: number[] = [];
    let baseline = -1;
    for (let step = 1; step <= 60; step++) {
      const loss = trainStep(model, opt, data.x, data.y, backend);
      losses.push(await loss.item());
      loss.dispose();
      // After the first step every parameter has its gradient; from then on the count is flat.
      if (step === 1) baseline = backend.liveCount();
      if (step <= 11) expect(backend.liveCount()).toBe(baseline);
    }
    console.log(`MLP loss ${losses[0].toFixed(4)} -> ${losses[losses.length - 1].toFixed(4)}`);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 10);
    model.dispose();
  });
});
