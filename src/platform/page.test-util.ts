/**
 * The browser page of the browser test: picks the backend named in the query string (`?backend=webgl`;
 * cpu by default), as a browser app would pick its own, runs the scenario on the encoder served beside
 * the page, and leaves the result (or the error) on `window.__kexue` for the test to read.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import * as tf from '@tensorflow/tfjs-core';
import { scenario } from './scenario.test-util.js';

const w = globalThis as unknown as { __kexue?: unknown };
(async () => {
  const wanted = new URLSearchParams(location.search).get('backend') ?? 'cpu';
  if (!(await tf.setBackend(wanted))) throw new Error(`backend ${wanted} is not available in this browser`);
  await tf.ready();
  const before = tf.memory().numTensors;
  const result = await scenario(new URL('model/', location.href).href);
  w.__kexue = { backend: tf.getBackend(), result, leaked: tf.memory().numTensors - before };
})().catch((e: unknown) => {
  w.__kexue = { error: String((e as Error)?.stack ?? e) };
});
