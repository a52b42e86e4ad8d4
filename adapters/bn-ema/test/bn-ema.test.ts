import { referenceSuite } from '@edgetta/testing';
import { bnEma } from '../src/index.js';

referenceSuite(bnEma, [{ pass: 'update' }, { pass: 'update', options: { momentum: 0.3 } }, { pass: 'predict' }, { pass: 'fused' }, { pass: 'fused', options: { momentum: 0.5 } }]);
