// Bad input on the reference backend (the WebGPU run is in webgpu-ops.test.ts).
import { ReferenceBackend } from '../../engine/index.js';
import { errorSuite } from '../helpers/error-suite.js';

const ref = new ReferenceBackend();
errorSuite('reference', () => ref);
