export * from './find.js';
export * from './onnx-ops.js';
export * from './compile.js';
export * from './probe.js';
export * from './compile-grad.js';
export * from './recover.js';
export * from './group-norm.js';
export * from './layer-norm-chain.js';
