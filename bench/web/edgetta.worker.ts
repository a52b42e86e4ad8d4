// The demo's worker script: the SDK runs here, on onnxruntime-web imported by this bundle.
import * as ort from 'onnxruntime-web';
import { exposeHost } from '@edgetta/worker/host';

exposeHost(self, { modules: { web: ort } });
