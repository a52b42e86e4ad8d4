export * from './types.js';
export * from './seeds.js';
export * from './orders.js';
export * from './protocols.js';
export * from './plan.js';
export * from './sources.js';
export * from './stream.js';
