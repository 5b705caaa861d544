"""The review page `mnist-labels review` serves: one candidate at a time, big, with its writer's
other digits of the published class and of the zoo's suggestion, and every model's answer.
Keys: Enter or r = the published label is right, 0-9 = it should be that digit, x = not a usable
digit, arrows = previous/next. Each answer is posted at once and written to the corrections file."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Label review</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 60em; color: #222; }
img { image-rendering: pixelated; border: 1px solid #ccc; background: #fff; }
#digit { width: 280px; height: 280px; }
.strip img { width: 56px; height: 56px; margin: 2px; }
.row { display: flex; gap: 2em; align-items: flex-start; }
#error { color: #b00020; white-space: pre-wrap; min-height: 1.4em; }
#decided { color: #1b5e20; min-height: 1.4em; }
button { font-size: 15px; margin: 2px; padding: 4px 10px; }
.meta td { padding: 1px 10px 1px 0; }
</style></head>
<body>
<h1>Label review: <span id="split"></span></h1>
<p id="status"></p>
<p>Each answer is written at once to <code id="corrections"></code>; then <code>dvc repro</code>.</p>
<p>Reviewer <input id="reviewer" size="30"> · Note (optional) <input id="note" size="40"></p>
<div class="row">
  <div><img id="digit" alt="the candidate"></div>
  <div>
    <table class="meta">
      <tr><td>Example</td><td id="candidate"></td></tr>
      <tr><td>Published label</td><td id="published" style="font-size: 2em"></td></tr>
      <tr><td>The zoo reads</td><td id="suggested"></td></tr>
      <tr><td>Each model</td><td id="models"></td></tr>
      <tr><td>Writer</td><td id="writer"></td></tr>
      <tr><td>Decision</td><td id="decision"></td></tr>
    </table>
    <p>
      <button id="right">Label is right (Enter)</button>
      <button id="exclude">Not a usable digit (x)</button><br>
      Should be: <span id="digits"></span><br>
      <button id="previous">← previous</button> <button id="next">next →</button>
    </p>
  </div>
</div>
<h3 id="same-published-title"></h3><div class="strip" id="same-published"></div>
<h3 id="same-suggested-title"></h3><div class="strip" id="same-suggested"></div>
<p id="decided"></p>
<p id="error"></p>
<script>
const state = { candidates: [], index: 0 };
const $ = (id) => document.getElementById(id);
$("reviewer").value = localStorage.getItem("reviewer") || __REVIEWER__;
$("reviewer").addEventListener("change", () => localStorage.setItem("reviewer", $("reviewer").value));
for (let digit = 0; digit < 10; digit++) {
  const button = document.createElement("button");
  button.textContent = digit;
  button.id = "digit-" + digit;
  button.addEventListener("click", () => answer(String(digit)));
  $("digits").appendChild(button);
}
function strip(element, ids) {
  if (!ids.length) { element.textContent = "none in this split"; return; }
  element.replaceChildren(...ids.map((id) => {
    const image = document.createElement("img");
    image.src = "/image/" + id; image.title = id; image.alt = id;
    return image;
  }));
}
function describe(decision, published) {
  if (!decision) return "none yet";
  const what = decision.label === "exclude" ? "not a usable digit"
    : String(decision.label) === String(published) ? "label is right" : "should be " + decision.label;
  return what + " (" + decision.decided_by + ", line " + decision.line + ")";
}
function show() {
  const all = state.candidates, candidate = all[state.index];
  const done = all.filter((c) => c.decision).length;
  $("status").textContent = done + " of " + all.length + " decided · candidate " + (state.index + 1);
  if (!candidate) return;
  document.body.dataset.id = candidate.id;
  $("digit").src = "/image/" + candidate.id;
  $("candidate").textContent = candidate.id + " (#" + candidate.rank + ", score " + candidate.score + ")";
  $("published").textContent = candidate.published;
  const models = Object.entries(candidate.models);
  const agree = models.filter(([, digit]) => digit === candidate.suggested).length;
  const count = models.length ? " (" + agree + " of " + models.length + " models)" : "";
  $("suggested").textContent = candidate.suggested + count;
  $("models").textContent = models.map(([name, digit]) => name + " " + digit).join(", ") || "no evaluations here";
  $("writer").textContent = candidate.writer + " (" + candidate.group + ")";
  $("decision").textContent = describe(candidate.decision, candidate.published);
  $("same-published-title").textContent = "Writer " + candidate.writer + "'s other " + candidate.published + "s";
  strip($("same-published"), candidate.same_published);
  $("same-suggested-title").textContent = "Writer " + candidate.writer + "'s " + candidate.suggested + "s";
  strip($("same-suggested"), candidate.same_suggested);
}
function move(step) {
  state.index = Math.max(0, Math.min(state.candidates.length - 1, state.index + step));
  show();
}
async function load() {
  const response = await fetch("/api/queue");
  const body = await response.json();
  if (!response.ok) { $("error").textContent = body.error; return; }
  state.candidates = body.candidates;
  $("split").textContent = body.split + " candidates";
  $("corrections").textContent = body.corrections;
  const first = state.candidates.findIndex((c) => !c.decision);
  state.index = first < 0 ? 0 : first;
  show();
  document.body.dataset.ready = "1";
}
async function answer(value) {
  const candidate = state.candidates[state.index];
  $("error").textContent = "";
  const response = await fetch("/api/decision", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ id: candidate.id, answer: value, reviewer: $("reviewer").value, note: $("note").value }),
  });
  const body = await response.json();
  if (!response.ok) {
    $("error").textContent = body.error;
    document.body.dataset.answered = candidate.id + ":error";
    return;
  }
  candidate.decision = { label: body.label, decided_by: $("reviewer").value, line: body.line, reason: body.reason };
  $("decided").textContent = candidate.id + ": " + describe(candidate.decision, candidate.published);
  $("note").value = "";
  const next = state.candidates.findIndex((c, i) => i > state.index && !c.decision);
  if (next >= 0) state.index = next;
  show();
  document.body.dataset.answered = candidate.id + ":" + body.label;
}
$("right").addEventListener("click", () => answer("right"));
$("exclude").addEventListener("click", () => answer("exclude"));
$("previous").addEventListener("click", () => move(-1));
$("next").addEventListener("click", () => move(1));
document.addEventListener("keydown", (event) => {
  if (event.target.tagName === "INPUT") return;
  if (event.key === "Enter" || event.key === "r") answer("right");
  else if (event.key === "x") answer("exclude");
  else if (/^[0-9]$/.test(event.key)) answer(event.key);
  else if (event.key === "ArrowLeft") move(-1);
  else if (event.key === "ArrowRight") move(1);
});
load();
</script>
</body></html>
"""
