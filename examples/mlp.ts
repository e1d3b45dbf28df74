// The smallest end-to-end run: trains a small MLP on WebGPU with
// plain SGD and prints the adapter, the loss per step and examples/s.
//   npx tsx examples/mlp.ts [--steps 200] [--batch 256]

import { SGD, setSeed } from '../engine/index.js';
import { SeededRandom } from '../engine/random.js';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
import { helpText, parseArgs, s } from '../train/index.js';
import { MLP, spirals, trainStep } from './lib/mlp.js';

const Schema = s.object({
  steps: s.int({ min: 1, default: 200 }),
  batch: s.int({ min: 1, default: 256 }),
});
const { config, help } = parseArgs(process.argv.slice(2), Schema);
if (help) {
  console.log(helpText(Schema as never, 'npx tsx examples/mlp.ts [flags]'));
  process.exit(0);
}
const { steps, batch } = config;

const backend = await createNodeBackend();
console.log(`adapter: ${JSON.stringify(backend.adapter)}`);
setSeed(1);
const model = new MLP(2, 128, 2, backend);
const opt = new SGD(model.parameters(), { lr: 0.3, momentum: 0.9 });
const data = spirals(4096, 7);
const rng = new SeededRandom(3);
const t0 = performance.now();
for (let step = 1; step <= steps; step++) {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < batch; i++) {
    const j = Math.floor(rng.next() * data.y.length);
    x.push(data.x[2 * j], data.x[2 * j + 1]);
    y.push(data.y[j]);
  }
  const loss = trainStep(model, opt, x, y, backend);
  if (step % 10 === 0 || step === 1) {
    const l = await loss.item();
    const exs = (step * batch) / ((performance.now() - t0) / 1000);
    console.log(`step ${String(step).padStart(4)}/${steps}  loss ${l.toFixed(4)}  ${exs.toFixed(0)} ex/s`);
  }
  loss.dispose();
}
