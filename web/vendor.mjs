// npm's postinstall: copy the files of onnxruntime-web that the page needs (its CPU WebAssembly
// build) into web/vendor/, where `dvc repro site` finds them. Run by `npm ci`.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'node_modules', 'onnxruntime-web', 'dist');
const files = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
mkdirSync(join(here, 'vendor'), { recursive: true });
for (const name of files) copyFileSync(join(dist, name), join(here, 'vendor', name));
console.log(`web/vendor: ${files.join(', ')} from onnxruntime-web`);
