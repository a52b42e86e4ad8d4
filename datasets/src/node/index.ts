/** Node-only loaders (fs, zlib, tar): import from `@edgetta/datasets/node`. */
export * from './files.js';
export * from './tar.js';
export * from './cifar.js';
export * from './camvid.js';
export * from './images.js';
export * from './npy-file.js';
export * from './cifar-c-source.js';
export { loadShippedFrostPictures, prepareCorruptions } from '../corruptions/frost-assets-node.js';
