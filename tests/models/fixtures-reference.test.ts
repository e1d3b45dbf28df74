// Golden fixtures on the float64 reference backend (see fixture-suite.ts).
import { ReferenceBackend } from '../../engine/index.js';
import { fixtureSuite } from './fixture-suite.js';

const ref = new ReferenceBackend();
fixtureSuite('reference (float64)', async () => ref);
