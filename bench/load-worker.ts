/**
 * A load generator in its own thread, so that the clients' HTTP work does not share the
 * server's event loop: POSTs `body` to `url` from `concurrency` closed-loop clients, or at a
 * steady `perSecond` (open loop) when that is given.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { drive, driveAtRate, post } from './drive.ts';

const { url, body, requests, concurrency, perSecond } = workerData as { url: string; body: unknown; requests: number; concurrency: number; perSecond?: number };
const call = async () => {
  await post(url, body);
};
const stats = perSecond ? await driveAtRate(requests, perSecond, call) : await drive(requests, concurrency, call);
parentPort!.postMessage(stats);
