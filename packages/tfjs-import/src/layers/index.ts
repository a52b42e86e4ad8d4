import { activationLayers } from './activation.js';
import { convLayers } from './conv.js';
import { coreLayers } from './core.js';
import { denseLayers } from './dense.js';
import { mergeLayers } from './merge.js';
import { normLayers } from './norm.js';
import { poolingLayers } from './pooling.js';
import { reshapeLayers } from './reshape.js';
import type { LayerConverter } from './types.js';

export type { LayerConverter } from './types.js';

/**
 * Every supported Keras layer, by class name. InputLayer and nested models (Sequential,
 * Functional) are handled by the graph walker itself.
 */
export const layerConverters: Readonly<Record<string, LayerConverter>> = Object.freeze({
  ...coreLayers,
  ...convLayers,
  ...normLayers,
  ...activationLayers,
  ...denseLayers,
  ...mergeLayers,
  ...poolingLayers,
  ...reshapeLayers,
});
