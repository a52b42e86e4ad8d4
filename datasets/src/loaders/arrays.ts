/**
 * Users' own data as NumPy arrays: uint8 images [N, H, W, 3] (HWC RGB; [N, H, W] or
 * [N, H, W, 1] grayscale is expanded to RGB) plus integer labels [N].
 */
import { DatasetError } from './errors.js';
import { labelsToInt32 } from './npy-reader.js';
import type { NpyArray } from './npy.js';
import type { LabeledImages, SourceInfo } from './types.js';

export interface ArrayImagesOptions {
  /** Names the images array in errors and in the source description. */
  imagesName?: string;
  /** Names the labels array in errors. */
  labelsName?: string;
  /** Number of classes (default: max label + 1). */
  numClasses?: number;
  classNames?: string[];
}

/** Builds a {@link LabeledImages} from an images array and a labels array, checking shapes and counts. */
export function labeledImagesFromArrays(
  images: Pick<NpyArray, 'data' | 'dtype' | 'shape'>,
  labels: Pick<NpyArray, 'data' | 'shape'> | ArrayLike<number>,
  options: ArrayImagesOptions = {},
): LabeledImages {
  const imagesName = options.imagesName ?? '<images>';
  const labelsName = options.labelsName ?? '<labels>';
  const shape = images.shape;
  const gray = shape.length === 3 || (shape.length === 4 && shape[3] === 1);
  if (images.dtype !== 'uint8') throw new DatasetError(imagesName, `images must be uint8, got ${images.dtype}`);
  if (!(gray || (shape.length === 4 && shape[3] === 3)) || shape[1] < 1 || shape[2] < 1) {
    throw new DatasetError(
      imagesName,
      `unsupported image array shape [${shape.join(', ')}] (expected uint8 [N, H, W, 3], or [N, H, W] / [N, H, W, 1] grayscale)`,
    );
  }
  const [count, height, width] = shape;
  const labelData = 'data' in labels ? labels.data : labels;
  if ('shape' in labels && labels.shape.length !== 1) {
    throw new DatasetError(labelsName, `labels must be 1-D, got shape [${labels.shape.join(', ')}]`);
  }
  const labelArray = labelsToInt32(labelData as ArrayLike<number | bigint>, labelsName);
  if (labelArray.length !== count) {
    throw new DatasetError(labelsName, `${labelArray.length} labels for ${count} images in ${imagesName}`);
  }
  let maxLabel = -1;
  for (let i = 0; i < labelArray.length; i++) if (labelArray[i] > maxLabel) maxLabel = labelArray[i];
  const numClasses = options.numClasses ?? maxLabel + 1;
  if (maxLabel >= numClasses) throw new DatasetError(labelsName, `label ${maxLabel} is out of range for ${numClasses} classes`);
  const src = images.data as Uint8Array;
  let data: Uint8Array;
  if (gray) {
    data = new Uint8Array(count * height * width * 3);
    for (let p = 0, o = 0; p < src.length; p++, o += 3) data[o] = data[o + 1] = data[o + 2] = src[p];
  } else {
    data = src;
  }
  const source: SourceInfo = { format: 'npy', description: imagesName };
  return {
    images: data,
    labels: labelArray,
    count,
    height,
    width,
    numClasses,
    ...(options.classNames ? { classNames: options.classNames } : {}),
    source,
  };
}
