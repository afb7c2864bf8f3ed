// The HMAC worker thread (see hmac-pool.ts): computes the run_id HMACs of a batch's last rows
// with the same module the main thread uses.
import { parentPort, workerData } from 'node:worker_threads';
import { RunIdHmac } from './run-id-hmac.js';

const hmac = new RunIdHmac(workerData.key);
parentPort.on('message', ({ id, messages }) => {
  try {
    const out = new Uint8Array(messages.length * 16);
    for (let i = 0; i < messages.length; i++) hmac.writeHex16(messages[i], out, i * 16);
    parentPort.postMessage({ id, hex: out }, [out.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
