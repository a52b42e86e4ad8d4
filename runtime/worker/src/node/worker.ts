/** The Node.js worker script: serves a host on the thread's parent port. */
import { parentPort } from 'node:worker_threads';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { exposeHost } from '../host.js';
import { RETIRE_MESSAGE } from '../protocol.js';

if (!parentPort) throw new Error('@edgetta/worker/node/worker must run inside a worker_threads Worker');
exposeHost(nodeEndpoint(parentPort));
// Handled between tasks, so never inside a native onnxruntime call (see WorkerPort.retire).
parentPort.on('message', (m: unknown) => {
  if (m && typeof m === 'object' && (m as typeof RETIRE_MESSAGE).edgettaRetire === true) process.exit(0);
});
