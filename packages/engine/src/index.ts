export * from './engine.js';
export * from './resolve.js';
export * from './web-select.js';
export * from './wasm-assets.js';
