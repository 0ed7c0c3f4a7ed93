// One model load in a fresh process, for bench/startup.mjs: a new inference
// worker, loadModel answered. (A process can load onnxruntime-node 1.14 into
// one worker thread only: after that worker is terminated, another cannot load
// it again, "Module did not self-register", so every run is its own process.)
//
//   node bench/load-model.mjs <models dir> <model> <cache dir>  → {"wallMs", "engineLoadMs", "graph"}
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { InferenceWorker } = require('../server/out/model/inferenceWorker.js');
const { resolveModel } = require('../server/out/model/resolve.js');

const [modelsDir, model, cacheDir] = process.argv.slice(2);
const location = resolveModel(model, undefined, { modelsDir, allowRemoteModels: false, cacheDir });
if (!location.ok) throw new Error(location.reason);
const worker = new InferenceWorker({ log: () => undefined });
const start = performance.now();
const info = await worker.loadModel({ location, cacheDir, quantized: true });
const wallMs = performance.now() - start;
console.log(JSON.stringify({ wallMs, engineLoadMs: info.loadMs, graph: info.graph }));
process.exit(0);
