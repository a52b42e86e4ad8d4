export { importLayersModel, type ImportOptions } from './import.js';
export { convertTopology, supportedLayers, IMPORT_OPSET, INPUT_LAYOUT_KEY, type ConvertOptions, type ConvertResult } from './convert.js';
export { loadLayersModel, type Bytes, type LayersModelArtifacts, type LayersModelLike, type LayersModelSource, type LoadOptions } from './load.js';
export { decodeWeights, type Weight, type WeightGroup, type WeightSpec, type Shard } from './weights.js';
export { supportedActivations } from './activations.js';
export { layerConverters, type LayerConverter } from './layers/index.js';
export { LayerContext, type KTensor, type Dim } from './context.js';
