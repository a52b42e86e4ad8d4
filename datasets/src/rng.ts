/** The seeded generator lives in @edgetta/core so methods (augmentations) and datasets share one. */
export { Rng, logGamma } from '@edgetta/core';
