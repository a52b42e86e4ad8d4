export * from './ops.js';
export * from './method.js';
export * from './registry.js';
export * from './reference.js';
export * from './state.js';
export * from './step.js';
export * from './rng.js';
export * from './blocks.js';
