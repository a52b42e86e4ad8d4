export * from './models.js';
export * from './reference-check.js';
export * from './suite.js';
export * from './npy.js';
export * from './noisy-sample.js';
export * as tinyNet from './tiny-model.js';
