import { referenceSuite } from '@edgetta/testing';
import { norm } from '../src/index.js';

referenceSuite(norm, [{ pass: 'predict' }]);
