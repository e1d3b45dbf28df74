// Golden fixtures on WebGPU (float32 kernels; see fixture-suite.ts).
import { getWebGPU } from '../helpers/webgpu.js';
import { fixtureSuite } from './fixture-suite.js';

fixtureSuite('WebGPU (float32)', getWebGPU);
