// The page's own modules on hand-made images (node --test web/test/); parity.test.mjs holds them
// to Python's on real drawings.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { IMAGE_SIZE, NoInkError, greyFromRGBA, normalise, resizeLanczos, roundHalfEven } from '../normalise.js';
import { failedScores, readBasis, typicality } from '../typicality.js';

/** A width x height grey image: `paper` everywhere, `ink` in the rectangle [x0, x1) x [y0, y1). */
function rectangle(width, height, [x0, y0, x1, y1], ink = 255, paper = 0) {
  const grey = new Float32Array(width * height).fill(paper);
  for (let y = y0; y < y1; y++) grey.fill(ink, y * width + x0, y * width + x1);
  return grey;
}

function centreOfMass(digit) {
  let [mass, row, column] = [0, 0, 0];
  digit.forEach((level, i) => {
    mass += level;
    row += Math.floor(i / IMAGE_SIZE) * level;
    column += (i % IMAGE_SIZE) * level;
  });
  return [row / mass, column / mass];
}

test('halves round to the even neighbour, as Python does', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, -2, 2, 3]);
});

test('grey levels follow Pillow\'s convert("L")', () => {
  const rgba = new Uint8ClampedArray([255, 255, 255, 255, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]);
  assert.deepEqual(Array.from(greyFromRGBA(rgba, 4, 1)), [255, 76, 150, 29]);
});

test('a blank canvas has no ink', () => {
  assert.throws(() => normalise(new Float32Array(100 * 100).fill(255), 100, 100), NoInkError);
  assert.throws(() => normalise(rectangle(100, 100, [10, 10, 20, 20], 20), 100, 100), /no ink/);
});

test('an off-centre stroke is cropped, fitted to 20x20 and centred by its mass', () => {
  const digit = normalise(rectangle(300, 200, [200, 20, 230, 180]), 300, 200); // 30 wide, 160 tall
  const [row, column] = centreOfMass(digit);
  assert.ok(Math.abs(row - 13.5) <= 0.5 && Math.abs(column - 13.5) <= 0.5, `centre ${row}, ${column}`);
  const inkRows = new Set();
  digit.forEach((level, i) => level > 128 && inkRows.add(Math.floor(i / IMAGE_SIZE)));
  assert.equal(inkRows.size, 20); // the long side fills the 20-pixel box
});

test('dark ink on light paper reads as light ink on dark', () => {
  const light = normalise(rectangle(120, 90, [30, 10, 50, 80]), 120, 90);
  const dark = normalise(rectangle(120, 90, [30, 10, 50, 80], 0, 255), 120, 90);
  assert.deepEqual(Array.from(dark), Array.from(light));
});

test('Lanczos resizing keeps a flat image flat', () => {
  const resized = resizeLanczos(new Float32Array(57 * 31).fill(200), 57, 31, 20, 11);
  assert.equal(resized.length, 20 * 11);
  for (const level of resized) assert.ok(Math.abs(level - 200) < 1e-3, String(level));
});

test('the typicality scores of the mean digit: rebuilt exactly, at the reference itself', () => {
  const pixels = 4;
  const mean = [0.1, 0.2, 0.3, 0.4];
  const component = [0.5, 0.5, 0.5, 0.5];
  const buffer = new Float32Array([...mean, ...component, ...Array(5).fill(0), 3]).buffer;
  const basis = readBasis(buffer, { pixels, components: 1, reference: 6 });
  const scores = typicality(mean.map((m) => m * 255), basis);
  assert.ok(Math.abs(scores.reconstruction) < 1e-6 && Math.abs(scores.neighbours) < 1e-6, JSON.stringify(scores));
  assert.equal(scores.ink, -0.75); // three of the four pixels above 32 of 255
  assert.deepEqual(failedScores({ ...scores, confidence: 0.5 }, { confidence: 0.9, ink: -0.8 }), ['confidence']);
});
