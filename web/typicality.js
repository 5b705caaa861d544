// "Is it a digit at all?", as mnist_zoo/data/digits.py scores it: the model's confidence, how well the
// training digits' principal components rebuild the image, how near it lies to training digits
// along them, and how much of it is ink. Each model's thresholds (chosen on validation digits by
// its robustness stage) say which images to answer "not a digit".

const NEIGHBOURS = 5;
const INK_LEVEL = 32;

/** The basis from typicality.bin: float32 mean, components (rows) and reference coordinates. */
export function readBasis(buffer, { pixels, components, reference }) {
  const all = new Float32Array(buffer);
  const mean = all.subarray(0, pixels);
  const basis = all.subarray(pixels, pixels + components * pixels);
  const coordinates = all.subarray(pixels + components * pixels, pixels + components * pixels + reference * components);
  return { pixels, components, reference, mean, basis, coordinates };
}

/** The three typicality scores of one 28x28 image (levels 0-255); higher: more digit-like. */
export function typicality(digit, { pixels, components, reference, mean, basis, coordinates }) {
  const centred = new Float64Array(pixels);
  for (let p = 0; p < pixels; p++) centred[p] = digit[p] / 255 - mean[p];
  const along = new Float64Array(components);
  for (let k = 0; k < components; k++) {
    let sum = 0;
    for (let p = 0; p < pixels; p++) sum += centred[p] * basis[k * pixels + p];
    along[k] = sum;
  }
  let residual = 0;
  for (let p = 0; p < pixels; p++) {
    let rebuilt = 0;
    for (let k = 0; k < components; k++) rebuilt += along[k] * basis[k * pixels + p];
    residual += (centred[p] - rebuilt) ** 2;
  }
  const nearest = [];
  for (let r = 0; r < reference; r++) {
    let distance = 0;
    for (let k = 0; k < components; k++) distance += (along[k] - coordinates[r * components + k]) ** 2;
    if (nearest.length < NEIGHBOURS || distance < nearest[nearest.length - 1]) {
      nearest.push(distance);
      nearest.sort((a, b) => a - b);
      if (nearest.length > NEIGHBOURS) nearest.pop();
    }
  }
  const meanNearest = nearest.reduce((a, b) => a + b, 0) / nearest.length;
  return {
    reconstruction: -Math.sqrt(residual),
    neighbours: -Math.sqrt(Math.max(meanNearest, 0)),
    ink: -digit.filter((level) => level > INK_LEVEL).length / digit.length,
  };
}

/** A digit when every score is at or above its threshold; the names of the scores that fail. */
export function failedScores(scores, thresholds) {
  return Object.entries(thresholds)
    .filter(([name, threshold]) => !(scores[name] >= threshold))
    .map(([name]) => name);
}
