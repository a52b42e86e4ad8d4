export {};
export * from './loaders/index.js';
export * from './streams/index.js';
export * from './corruptions/index.js';
