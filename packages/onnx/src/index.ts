export * from './proto.js';
export * from './tensor.js';
export * from './ir.js';
export * from './builder.js';
