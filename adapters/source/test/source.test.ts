import { referenceSuite } from '@edgetta/testing';
import { source } from '../src/index.js';

referenceSuite(source, [{ pass: 'predict' }]);
