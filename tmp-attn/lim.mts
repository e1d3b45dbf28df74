import { createNodeBackend } from '../engine/backend/webgpu/node.js';
const b = await createNodeBackend();
console.log(JSON.stringify(b.adapter));
const l = b.device.limits as any;
console.log(l.maxComputeWorkgroupStorageSize, l.maxStorageBuffersPerShaderStage, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
b.destroy();
