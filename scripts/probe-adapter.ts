// Prints the WebGPU adapter the engine would use (npx tsx scripts/probe-adapter.ts).
// Exit status 0 with an adapter, 1 without (the error says what to install).
import { acquireNodeDevice } from '../engine/backend/webgpu/node.js';
import { describeAdapter } from '../engine/backend/webgpu/device.js';

try {
  const { device, report } = await acquireNodeDevice({ timeoutMs: 15_000 });
  console.log(`adapter: ${describeAdapter(report)}`);
  console.log(JSON.stringify(report, null, 2));
  device.destroy();
  process.exit(0);
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
}
