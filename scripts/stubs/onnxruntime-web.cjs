/* global module */
// Stands in for `onnxruntime-web` in the bundled server. transformers.js 2.17.2
// imports it at load time but uses it only outside Node (src/backends/onnx.js
// picks onnxruntime-node when process.release.name is 'node'), so its 66 MB of
// WebAssembly builds would never run in the extension.
module.exports = {};
