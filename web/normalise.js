// A drawing brought to MNIST's format, the recipe of mnist_zoo/data/digits.py `normalise` step by step:
// grey; either polarity made light ink on dark; cropped to the ink; scaled (Pillow's Lanczos
// filter, as `predict` does) to fit 20x20 keeping the aspect ratio; placed in 28x28 by its centre
// of mass. tests/test_web.py holds the two to each other on 1,000 drawings.

export const IMAGE_SIZE = 28;
export const BOX_SIZE = 20;
export const INK_THRESHOLD = 0.2; // share of the image's contrast above which a pixel is ink
export const MIN_CONTRAST = 32; // grey levels: below this the image holds no ink

export class NoInkError extends Error {}

/** Grey levels 0-255 of RGBA pixels (a canvas' ImageData), as Pillow's convert("L") computes them. */
export function greyFromRGBA(rgba, width, height) {
  const grey = new Float32Array(width * height);
  for (let i = 0; i < grey.length; i++) {
    const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
    grey[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
  }
  return grey;
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(value) {
  const floor = Math.floor(value);
  const difference = value - floor;
  if (difference > 0.5) return floor + 1;
  if (difference < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function lanczos(x) {
  const sinc = (t) => (t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t));
  return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

// Pillow's precompute_coeffs: for each output pixel, the first input pixel and its weights.
function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 3 * filterScale;
  const result = [];
  for (let out = 0; out < outSize; out++) {
    const centre = (out + 0.5) * scale;
    const first = Math.max(Math.trunc(centre - support + 0.5), 0);
    const last = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const weights = [];
    let total = 0;
    for (let x = first; x < last; x++) {
      const weight = lanczos((x - centre + 0.5) / filterScale);
      weights.push(weight);
      total += weight;
    }
    result.push({ first, weights: weights.map((weight) => (total !== 0 ? weight / total : weight)) });
  }
  return result;
}

/** Pillow's resize(LANCZOS) of a float32 ("F") image: horizontal pass, then vertical, each stored as float32. */
export function resizeLanczos(pixels, width, height, outWidth, outHeight) {
  const horizontal = coefficients(width, outWidth);
  const vertical = coefficients(height, outHeight);
  let rows = pixels;
  if (outWidth !== width) {
    rows = new Float32Array(outWidth * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < outWidth; x++) {
        const { first, weights } = horizontal[x];
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += pixels[y * width + first + k] * weights[k];
        rows[y * outWidth + x] = sum;
      }
    }
  }
  if (outHeight === height) return rows;
  const out = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const { first, weights } = vertical[y];
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += rows[(first + k) * outWidth + x] * weights[k];
      out[y * outWidth + x] = sum;
    }
  }
  return out;
}

const clip = (value, low, high) => Math.min(Math.max(value, low), high);

/**
 * MNIST's preprocessing of a grey image (`width` x `height` levels 0-255, row by row): a
 * Float32Array of 28x28 levels 0-255, light ink on dark. Throws NoInkError for a blank image.
 */
export function normalise(grey, width, height) {
  const border = [];
  for (let x = 0; x < width; x++) border.push(grey[x], grey[(height - 1) * width + x]);
  for (let y = 0; y < height; y++) border.push(grey[y * width], grey[y * width + width - 1]);
  const background = median(border);
  let contrast = 0;
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) {
    ink[i] = Math.abs(grey[i] - background);
    contrast = Math.max(contrast, ink[i]);
  }
  if (contrast < MIN_CONTRAST) {
    throw new NoInkError(`no ink found (the image is blank: contrast ${Math.round(contrast)} of 255)`);
  }
  const gain = Math.fround(255 / contrast);
  let [top, bottom, left, right] = [height, -1, width, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const level = clip(Math.fround(ink[y * width + x] * gain), 0, 255);
      ink[y * width + x] = level;
      if (level > INK_THRESHOLD * 255) {
        [top, bottom] = [Math.min(top, y), Math.max(bottom, y)];
        [left, right] = [Math.min(left, x), Math.max(right, x)];
      }
    }
  }
  const [cropWidth, cropHeight] = [right - left + 1, bottom - top + 1];
  const crop = new Float32Array(cropWidth * cropHeight);
  for (let y = 0; y < cropHeight; y++) {
    crop.set(ink.subarray((top + y) * width + left, (top + y) * width + right + 1), y * cropWidth);
  }
  const scale = BOX_SIZE / Math.max(cropWidth, cropHeight);
  const boxHeight = Math.max(1, roundHalfEven(cropHeight * scale));
  const boxWidth = Math.max(1, roundHalfEven(cropWidth * scale));
  const box = resizeLanczos(crop, cropWidth, cropHeight, boxWidth, boxHeight).map((level) => clip(level, 0, 255));
  let [mass, rowMoment, columnMoment] = [0, 0, 0];
  for (let y = 0; y < boxHeight; y++) {
    for (let x = 0; x < boxWidth; x++) {
      const level = box[y * boxWidth + x];
      mass += level;
      rowMoment += y * level;
      columnMoment += x * level;
    }
  }
  const rowOffset = clip(roundHalfEven(IMAGE_SIZE / 2 - 0.5 - rowMoment / mass), 0, IMAGE_SIZE - boxHeight);
  const columnOffset = clip(roundHalfEven(IMAGE_SIZE / 2 - 0.5 - columnMoment / mass), 0, IMAGE_SIZE - boxWidth);
  const digit = new Float32Array(IMAGE_SIZE * IMAGE_SIZE);
  for (let y = 0; y < boxHeight; y++) {
    digit.set(box.subarray(y * boxWidth, (y + 1) * boxWidth), (rowOffset + y) * IMAGE_SIZE + columnOffset);
  }
  return digit;
}
