import fs from 'node:fs';
import { readNpy, type NpyArray } from '../../../datasets/src/loaders/npy.js';

/** Reads a .npy fixture file. */
export function readNpyFile(path: string): NpyArray {
  return readNpy(new Uint8Array(fs.readFileSync(path)), path);
}
