// The page: a canvas to draw on, every model's answer as the drawing changes, the leaderboard and
// each model's card. data.json (written by `dvc repro site`) says what to show; each model loads
// from models/<name>.onnx the first time a drawing needs it.
import * as ort from './vendor/ort.wasm.min.mjs';
import { IMAGE_SIZE, NoInkError, greyFromRGBA, normalise } from './normalise.js';
import { failedScores, readBasis, typicality } from './typicality.js';

ort.env.wasm.numThreads = 1; // a static host gives no cross-origin isolation, so no threads
ort.env.wasm.wasmPaths = new URL('vendor/', import.meta.url).href;

const PEN_WIDTH = 18; // on the 280x280 canvas: MNIST's stroke once scaled to its 20x20 box
const $ = (id) => document.getElementById(id);
const percent = (value, digits = 2) => (value == null ? '–' : `${(100 * value).toFixed(digits)}%`);
// Python's rounding (a tie goes to the even neighbour), so 27932.5 images/s reads 27,932 here as in the README.
const roundHalfEven = (value) => {
  const rounded = Math.round(value);
  return Math.abs(value % 1) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
};
// The leaderboard's formats by name, as mnist_zoo/reporting/leaderboard.py's FORMATS writes them for the README.
const FORMATS = {
  percent: (value) => percent(value),
  score: (value) => value.toFixed(4),
  count: (value) => roundHalfEven(value).toLocaleString('en'),
};
const cell = (format, value) => (value == null ? '–' : FORMATS[format](value));
const megabytes = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

const data = await (await fetch('data.json')).json();
const variants = [...data.variants].sort((a, b) => (b.accuracy ?? 0) - (a.accuracy ?? 0));
const basis = data.typicality
  ? readBasis(await (await fetch(data.typicality.file)).arrayBuffer(), data.typicality)
  : null;

if (data.training_images) {
  $('profile').hidden = false;
  $('profile').textContent =
    `These models were trained on a reduced profile (${data.training_images.toLocaleString('en')} training ` +
    'images, fewer epochs), not the full recipes: expect weaker answers than the README\'s leaderboard.';
}

// The leaderboard and the model sections: its columns (key, header, format) come from data.json,
// written from the one list of summary figures that also writes the README's table.
const columns = [
  ['Model', (v) => v.name],
  ...data.columns.map(({ key, header, format }) => [header, (v) => cell(format, v[key])]),
];
const table = $('leaderboard');
table.innerHTML =
  `<thead><tr>${columns.map(([title]) => `<th>${title}</th>`).join('')}</tr></thead>` +
  `<tbody>${variants
    .map((v) => `<tr>${columns.map(([, cell], i) => (i ? `<td>${cell(v)}</td>` : `<td><a href="#model-${v.name}">${v.name}</a></td>`)).join('')}</tr>`)
    .join('')}</tbody>`;

for (const v of variants) {
  const details = document.createElement('details');
  details.id = `model-${v.name}`;
  details.innerHTML =
    `<summary>${v.name}: ${percent(v.accuracy)} on the test set</summary>` +
    '<div class="figures">' +
    `<img loading="lazy" src="${v.confusion}" alt="${v.name}: confusion matrix on the test set">` +
    `<img loading="lazy" src="${v.misclassified}" alt="${v.name}: its most confident mistakes">` +
    `</div><div class="card">${v.card}</div>`;
  $('models').append(details);

  const panel = document.createElement('article');
  panel.className = 'answer';
  panel.id = `answer-${v.name}`;
  panel.dataset.state = 'idle';
  panel.innerHTML =
    `<h3>${v.name} <span class="accuracy">${percent(v.accuracy)}</span></h3>` +
    '<div class="verdict">–</div><div class="bars"></div><div class="state">not loaded</div>';
  $('answers').append(panel);
}

// Models, loaded the first time a drawing needs them, one at a time.
const sessions = new Map();
async function session(v) {
  if (!sessions.has(v.name)) {
    const panel = $(`answer-${v.name}`);
    $('status').textContent = `Loading ${v.name} (${megabytes(v.model_bytes)})…`;
    panel.querySelector('.state').textContent = 'loading…';
    panel.dataset.state = 'loading';
    sessions.set(v.name, await ort.InferenceSession.create(v.model, { executionProviders: ['wasm'] }));
    panel.querySelector('.state').textContent = 'ready';
  }
  return sessions.get(v.name);
}

// Drawing, with a mouse, a pen or a finger (pointer events).
const canvas = $('canvas');
const pen = canvas.getContext('2d', { willReadFrequently: true });
function clearCanvas() {
  pen.fillStyle = '#fff';
  pen.fillRect(0, 0, canvas.width, canvas.height);
}
clearCanvas();
const at = (event) => [
  (event.offsetX * canvas.width) / canvas.clientWidth,
  (event.offsetY * canvas.height) / canvas.clientHeight,
];
let last = null;
canvas.addEventListener('pointerdown', (event) => {
  canvas.setPointerCapture(event.pointerId);
  last = at(event);
  pen.fillStyle = '#000';
  pen.beginPath();
  pen.arc(last[0], last[1], PEN_WIDTH / 2, 0, 2 * Math.PI);
  pen.fill();
  changed();
});
canvas.addEventListener('pointermove', (event) => {
  if (!last) return;
  const next = at(event);
  Object.assign(pen, { strokeStyle: '#000', lineWidth: PEN_WIDTH, lineCap: 'round', lineJoin: 'round' });
  pen.beginPath();
  pen.moveTo(...last);
  pen.lineTo(...next);
  pen.stroke();
  last = next;
  changed();
});
for (const type of ['pointerup', 'pointercancel']) canvas.addEventListener(type, () => (last = null));
$('clear').addEventListener('click', () => {
  clearCanvas();
  changed();
});

// Answers: after each change, every model reads the newest drawing (changes made while it reads
// wait for the next round). body[data-drawing] counts changes; each panel's data-drawing says
// which one it answered.
let drawing = 0;
let busy = false;
function changed() {
  document.body.dataset.drawing = ++drawing;
  if (!busy) answerAll();
}
async function answerAll() {
  busy = true;
  try {
    let answered;
    do {
      answered = drawing;
      await new Promise(requestAnimationFrame); // let a stroke in progress reach the canvas first
      await answer(answered);
    } while (answered !== drawing);
  } catch (error) {
    $('status').textContent = `Error: ${error.message}`;
    throw error;
  } finally {
    busy = false;
  }
}

async function answer(id) {
  const { data: rgba } = pen.getImageData(0, 0, canvas.width, canvas.height);
  let digit;
  try {
    digit = normalise(greyFromRGBA(rgba, canvas.width, canvas.height), canvas.width, canvas.height);
  } catch (error) {
    if (!(error instanceof NoInkError)) throw error;
    showSeen(new Float32Array(IMAGE_SIZE * IMAGE_SIZE));
    for (const v of variants) show(v, id, null);
    $('status').textContent = 'Draw a digit in the box.';
    return;
  }
  showSeen(digit);
  const looks = basis ? typicality(digit, basis) : null;
  const input = new ort.Tensor('float32', digit, [1, IMAGE_SIZE, IMAGE_SIZE, 1]);
  for (const v of variants) {
    const model = await session(v);
    const output = await model.run({ [model.inputNames[0]]: input });
    const probabilities = Array.from(output[model.outputNames[0]].data);
    const failed = v.thresholds && looks
      ? failedScores({ confidence: Math.max(...probabilities), ...looks }, v.thresholds)
      : [];
    show(v, id, probabilities, failed);
  }
  $('status').textContent = `${variants.length} model${variants.length > 1 ? 's' : ''} answered.`;
}

function show(v, id, probabilities, failed = []) {
  const panel = $(`answer-${v.name}`);
  panel.dataset.drawing = id;
  const verdict = panel.querySelector('.verdict');
  const bars = panel.querySelector('.bars');
  if (!probabilities) {
    Object.assign(panel.dataset, { state: 'idle', digit: '' });
    verdict.textContent = '–';
    bars.innerHTML = '';
    return;
  }
  const ranked = probabilities.map((p, digit) => [digit, p]).sort((a, b) => b[1] - a[1]);
  const top = ranked[0][0];
  Object.assign(panel.dataset, { state: failed.length ? 'not-a-digit' : 'digit', digit: top });
  verdict.textContent = failed.length ? 'not a digit' : top;
  verdict.title = failed.length ? `below its threshold on: ${failed.join(', ')}` : '';
  bars.innerHTML = ranked
    .slice(0, 3)
    .map(([d, p]) => `<div class="bar"><span>${d}</span><span class="fill" style="width:${(100 * p).toFixed(1)}px"></span><span>${percent(p, 1)}</span></div>`)
    .join('');
}

const seen = $('seen').getContext('2d');
function showSeen(digit) {
  const image = seen.createImageData(IMAGE_SIZE, IMAGE_SIZE);
  digit.forEach((level, i) => {
    image.data.set([level, level, level, 255], 4 * i);
  });
  seen.putImageData(image, 0, 0);
}

// Saving a drawing as one of your own digits: the canvas as drawn (the pipeline normalises it as it
// normalises a scan), named writer_digit_time.png for `mnist-digits add` to file in digits/<writer>/<digit>/.
const writerName = (text) => text.trim().toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
$('writer').value = localStorage.getItem('writer') ?? '';
$('save').addEventListener('submit', (event) => {
  event.preventDefault();
  const writer = writerName($('writer').value);
  const { data: rgba } = pen.getImageData(0, 0, canvas.width, canvas.height);
  try {
    normalise(greyFromRGBA(rgba, canvas.width, canvas.height), canvas.width, canvas.height);
  } catch (error) {
    if (!(error instanceof NoInkError)) throw error;
    $('status').textContent = 'Nothing to save: draw a digit first.';
    return;
  }
  if (!writer) {
    $('status').textContent = "Give the writer's name first (letters, digits and -).";
    return;
  }
  localStorage.setItem('writer', writer);
  const time = new Date().toISOString().replace(/[-:]/g, '').replace('.', '-').replace('Z', '');
  const name = `${writer}_${$('label').value}_${time}.png`;
  canvas.toBlob((blob) => {
    const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: name });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    document.body.dataset.saved = name;
    $('status').textContent = `Saved ${name}: \`mnist-digits add\` files it in digits/${writer}/${$('label').value}/.`;
  }, 'image/png');
});

$('status').textContent = 'Draw a digit in the box.';
document.body.dataset.ready = 'true';
