// The page's normalisation and ONNX Runtime Web against Python's, on drawings tests/test_web.py
// makes from real MNIST test digits (PARITY_FIXTURES: that folder; skipped without it):
// index.json lists each drawing (offset, width, height in drawings.bin; Python ONNX Runtime's digit
// and typicality scores), python.bin holds Python's 28x28 of each (float32), model.onnx the model
// both ran, typicality.bin and typicality.json the basis as the page reads it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import * as ort from '../../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';
import { IMAGE_SIZE, normalise } from '../normalise.js';
import { readBasis, typicality } from '../typicality.js';

const fixtures = process.env.PARITY_FIXTURES;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

test('the page reads drawings as Python does', { skip: !fixtures && 'PARITY_FIXTURES is not set' }, async () => {
  const index = JSON.parse(readFileSync(join(fixtures, 'index.json'), 'utf8'));
  const drawings = readFileSync(join(fixtures, 'drawings.bin'));
  const python = new Float32Array(new Uint8Array(readFileSync(join(fixtures, 'python.bin'))).buffer);
  const basis = readBasis(
    new Uint8Array(readFileSync(join(fixtures, 'typicality.bin'))).buffer,
    JSON.parse(readFileSync(join(fixtures, 'typicality.json'), 'utf8')),
  );
  const batch = new Float32Array(index.length * PIXELS);
  let totalDifference = 0;
  let worst = 0;
  let worstScore = 0;
  index.forEach(({ offset, width, height, python_scores }, i) => {
    const grey = Float32Array.from(drawings.subarray(offset, offset + width * height));
    const digit = normalise(grey, width, height);
    let difference = 0;
    for (let p = 0; p < PIXELS; p++) difference += Math.abs(digit[p] - python[i * PIXELS + p]);
    totalDifference += difference;
    worst = Math.max(worst, difference / PIXELS);
    batch.set(digit, i * PIXELS);
    const scores = typicality(python.subarray(i * PIXELS, (i + 1) * PIXELS), basis);
    for (const [name, value] of Object.entries(python_scores)) {
      worstScore = Math.max(worstScore, Math.abs(scores[name] - value) / Math.max(1, Math.abs(value)));
    }
  });
  const meanDifference = totalDifference / (index.length * PIXELS);

  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(readFileSync(join(fixtures, 'model.onnx')));
  const input = new ort.Tensor('float32', batch, [index.length, IMAGE_SIZE, IMAGE_SIZE, 1]);
  const output = await session.run({ [session.inputNames[0]]: input });
  const probabilities = output[session.outputNames[0]].data;
  let same = 0;
  index.forEach(({ python_digit }, i) => {
    const row = probabilities.subarray(i * 10, (i + 1) * 10);
    same += row.indexOf(Math.max(...row)) === python_digit ? 1 : 0;
  });
  const agreement = same / index.length;
  console.log(JSON.stringify({ drawings: index.length, meanDifference, worst, agreement, worstScore }));
  assert.ok(meanDifference <= 1, `mean difference ${meanDifference} grey levels (at most 1)`);
  assert.ok(worstScore < 1e-3, `typicality scores differ from Python's by up to ${worstScore} (relative)`);
  assert.ok(agreement >= 0.995, `same digit as Python on ${same} of ${index.length} (at least 99.5%)`);
});
