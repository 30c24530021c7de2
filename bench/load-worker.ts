/**
 * A load generator in its own thread, so that the clients' HTTP work does not share the
 * server's event loop: POSTs `body` to `url` from `concurrency` closed-loop clients.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { drive, post } from './drive.ts';

const { url, body, requests, concurrency } = workerData as { url: string; body: unknown; requests: number; concurrency: number };
const stats = await drive(requests, concurrency, async () => {
  await post(url, body);
});
parentPort!.postMessage(stats);
