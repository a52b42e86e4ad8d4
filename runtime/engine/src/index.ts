export * from './engine.js';
export * from './resolve.js';
