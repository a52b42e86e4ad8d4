import { referenceSuite } from '@edgetta/testing';
import { alphaBn } from '../src/index.js';

referenceSuite(alphaBn, [{ pass: 'predict' }, { pass: 'predict', options: { alpha: 0.5 } }, { pass: 'predict', options: { alpha: 1 } }]);
