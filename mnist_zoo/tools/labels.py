"""Review the label candidates and write the decisions to labels/corrections.csv.

    mnist-labels review [--split test] [--reviewer NAME]    a page on 127.0.0.1: each candidate big,
                                                            its writer's other digits, the zoo's answers;
                                                            Enter = label is right, 0-9 = should be N,
                                                            x = not a usable digit
    mnist-labels review --split train --variant mlp_relu    the training split's (labels.cross_fit)
    mnist-labels export tasks.json [--split test]           the candidates as Label Studio tasks
                                                            (and tasks.xml, its labelling config)
    mnist-labels import export.json [--split test]          a Label Studio JSON export into the file

Every answer becomes the example's row of the corrections file at once (the same checks as
preprocess: its image's SHA-256, its published label, a digit or `exclude`, who and why), so a
review stopped half-way resumes where it stopped. Only the listed candidates (results/
label_candidates/<split>.csv, from `dvc repro`) can be answered. Then `dvc repro` applies them.
"""

import argparse
import getpass
import http.server
import json
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mnist_zoo import config
from mnist_zoo.data import labelstudio
from mnist_zoo.data.corrections import EXCLUDE, Decision, pixel_sha256, read_corrections, record_decisions
from mnist_zoo.evaluation.label_candidates import TRAIN_CANDIDATES_DIR

OTHER_DIGITS = 8  # of the writer's, per class shown beside a candidate


class Queue:
    """One split's candidates with what a reviewer needs beside each: the image, its writer's other
    digits, every model's answer; and the decisions the corrections file holds for them."""

    def __init__(
        self,
        split: str = "test",
        candidates_dir: Path = config.LABEL_CANDIDATES_DIR,
        prepared_dir: Path = config.PREPARED_DIR,
        probabilities_dir: Path = config.PROBABILITIES_DIR,
        corrections_path: Path = config.CORRECTIONS_PATH,
        candidates_path: Path | None = None,
    ):
        """`candidates_path` defaults to `candidates_dir`/<split>.csv (label_candidates' lists); the
        training split's lists are train_candidates@<variant>'s."""
        candidates_path = candidates_dir / f"{split}.csv" if candidates_path is None else candidates_path
        split_path = prepared_dir / f"{split}.npz"
        for path in (candidates_path, split_path):
            if not path.is_file():
                rerun = "train_candidates (opt in: labels.cross_fit)" if split == "train" else "label_candidates"
                raise FileNotFoundError(f"{path} is missing: run `dvc repro {rerun}` (or `dvc pull`) first.")
        self.split, self.corrections_path = split, corrections_path
        self.candidates = pd.read_csv(candidates_path).to_dict("records")
        with np.load(split_path) as arrays:
            self.images, self.published, self.writers = arrays["images"], arrays["published"], arrays["writers"]
            self.ids = arrays["ids"]
        self.position = {str(identifier): index for index, identifier in enumerate(self.ids)}
        missing = [c["id"] for c in self.candidates if c["id"] not in self.position]
        if missing:
            raise ValueError(
                f"{candidates_path} lists {', '.join(missing[:3])}, not in {split_path}: the list predates the "
                "split; run `dvc repro label_candidates`."
            )
        self.answers = {}
        for path in sorted(probabilities_dir.glob("*.npz")):
            with np.load(path) as arrays:
                if split in arrays.files and len(arrays[split]) == len(self.ids):
                    self.answers[path.stem] = arrays[split].argmax(axis=1)
        self.by_id = {str(c["id"]): c for c in self.candidates}
        self.lock = threading.Lock()

    def image(self, identifier: str) -> np.ndarray:
        return self.images[self.position[identifier]]

    def others(self, index: int, digit: int) -> list[str]:
        """The ids of the candidate's writer's other digits published as `digit`."""
        same = (self.writers == self.writers[index]) & (self.published == digit)
        same[index] = False
        return [str(self.ids[i]) for i in np.flatnonzero(same)[:OTHER_DIGITS]]

    def decisions(self) -> dict[str, dict[str, Any]]:
        """The corrections file's rows for this split's candidates (the file re-read: hand edits count)."""
        rows = {row.id: row for row in read_corrections(self.corrections_path)}
        return {
            identifier: {
                "label": EXCLUDE if row.label is None else row.label,
                "reason": row.reason,
                "decided_by": row.decided_by,
                "line": row.line,
            }
            for identifier, row in rows.items()
            if identifier in self.by_id
        }

    def state(self) -> dict[str, Any]:
        decided = self.decisions()
        shown = []
        for candidate in self.candidates:
            identifier, index = str(candidate["id"]), self.position[str(candidate["id"])]
            shown.append(
                {
                    **{key: candidate[key] for key in ("rank", "label", "published", "suggested", "score", "group")},
                    "id": identifier,
                    "writer": int(candidate["writer"]),
                    "models": {name: int(answers[index]) for name, answers in self.answers.items()},
                    "same_published": self.others(index, int(candidate["published"])),
                    "same_suggested": self.others(index, int(candidate["suggested"])),
                    "decision": decided.get(identifier),
                }
            )
        return {"split": self.split, "corrections": self.corrections_path.as_posix(), "candidates": shown}

    def decision(self, identifier: str, answer: str, reviewer: str, note: str = "") -> Decision:
        """A reviewer's answer ("right", a digit 0-9, or "exclude") about a listed candidate."""
        candidate = self.by_id.get(identifier)
        if candidate is None:
            raise ValueError(
                f"{identifier!r} is not one of the {len(self.candidates)} {self.split} candidates; "
                "answer only those listed."
            )
        published = int(self.published[self.position[identifier]])
        answer = str(answer).strip()
        zoo = f"zoo: {candidate['suggested']}, {candidate['models_suggesting']} of {len(self.answers) or '?'} models"
        if answer == "right":
            label, reason = published, f"review: the published {published} is right ({zoo})"
        elif answer == EXCLUDE:
            label, reason = EXCLUDE, f"review: not a usable digit ({zoo})"
        elif answer.isdigit() and int(answer) < 10:
            label = int(answer)
            reason = (
                f"review: the published {published} is right ({zoo})"
                if label == published
                else (f"review: reads as {label}, not {published} ({zoo})")
            )
        else:
            raise ValueError(f"{identifier}: answer {answer!r} is not 'right', a digit 0-9 or {EXCLUDE!r}.")
        if not reviewer.strip():
            raise ValueError(f"{identifier}: say who reviewed (the reviewer's name).")
        if note.strip():
            reason = f"{reason}; {note.strip()}"
        return Decision(identifier, pixel_sha256(self.image(identifier)), published, label, reason, reviewer.strip())

    def record(self, decisions: list[Decision]) -> list[int]:
        with self.lock:
            return record_decisions(self.corrections_path, decisions)


def make_server(queue: Queue, reviewer: str, port: int = 0) -> http.server.ThreadingHTTPServer:
    """The review page and its three requests, on 127.0.0.1 (`port` 0: a free one)."""
    from mnist_zoo.tools.review_page import PAGE

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def reply(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def reply_json(self, status: int, data: Any) -> None:
            self.reply(status, json.dumps(data).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path in ("/", "/index.html"):
                self.reply(200, PAGE.replace("__REVIEWER__", json.dumps(reviewer)).encode(), "text/html; charset=utf-8")
            elif self.path == "/api/queue":
                try:
                    self.reply_json(200, queue.state())
                except ValueError as error:  # the file broken by hand: say where
                    self.reply_json(409, {"error": str(error)})
            elif self.path.startswith("/image/") and self.path[len("/image/") :] in queue.position:
                self.reply(200, labelstudio.png_bytes(queue.image(self.path[len("/image/") :])), "image/png")
            else:
                self.reply_json(404, {"error": f"no {self.path} here"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/api/decision":
                self.reply_json(404, {"error": f"no {self.path} here"})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                decision = queue.decision(
                    str(body.get("id", "")),
                    str(body.get("answer", "")),
                    str(body.get("reviewer", "")),
                    str(body.get("note", "")),
                )
                (line,) = queue.record([decision])
            except ValueError as error:
                self.reply_json(
                    409 if str(error).startswith(str(queue.corrections_path)) else 400, {"error": str(error)}
                )
                return
            self.reply_json(200, {"id": decision.id, "label": decision.label, "reason": decision.reason, "line": line})

    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)


def export_tasks(queue: Queue, path: Path, limit: int) -> int:
    from mnist_zoo.files import atomic_write_bytes

    tasks = [
        labelstudio.candidate_task(candidate, queue.image(str(candidate["id"])), len(queue.answers))
        for candidate in queue.candidates[: limit or None]
    ]
    atomic_write_bytes(path, (json.dumps(tasks, indent=1) + "\n").encode())
    atomic_write_bytes(path.with_suffix(".xml"), labelstudio.LABEL_CONFIG.encode())
    return len(tasks)


def import_export(queue: Queue, path: Path) -> list[Decision]:
    """A Label Studio JSON export's answers, each checked as a review answer, recorded in one write."""
    try:
        tasks = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error}); export the project as JSON from Label Studio.") from error
    decisions = []
    for answer in labelstudio.exported_answers(tasks):
        try:
            decisions.append(queue.decision(answer["id"], answer["label"], answer["decided_by"], answer["note"]))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
    if decisions:
        queue.record(decisions)
    return decisions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnist-labels", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    review = commands.add_parser("review", help="review the candidates in a browser")
    review.add_argument("--reviewer", default=getpass.getuser(), help="the name written as decided_by")
    review.add_argument("--port", type=int, default=8765)
    export = commands.add_parser("export", help="the candidates as Label Studio tasks")
    export.add_argument("tasks", type=Path)
    export.add_argument("--limit", type=int, default=0, help="the first N candidates (0: all listed)")
    imported = commands.add_parser("import", help="a Label Studio JSON export into the corrections file")
    imported.add_argument("export", type=Path)
    for command in (review, export, imported):
        command.add_argument("--split", choices=("test", "validation", "train"), default="test")
        command.add_argument("--variant", help="with --split train: the cross-fitted variant whose list to review")
        command.add_argument("--corrections", type=Path, default=config.CORRECTIONS_PATH)
    arguments = parser.parse_args(argv)
    try:
        if (arguments.split == "train") != bool(arguments.variant):
            raise ValueError(
                "the training split's candidates are per cross-fitted variant: give --split train with "
                "--variant NAME (a key of labels.cross_fit), and --variant only with --split train."
            )
        listed = TRAIN_CANDIDATES_DIR / f"{arguments.variant}.csv" if arguments.variant else None
        queue = Queue(arguments.split, corrections_path=arguments.corrections, candidates_path=listed)
        if arguments.command == "export":
            count = export_tasks(queue, arguments.tasks, arguments.limit)
            print(f"{count} tasks in {arguments.tasks}; the labelling config in {arguments.tasks.with_suffix('.xml')}")
        elif arguments.command == "import":
            decisions = import_export(queue, arguments.export)
            relabelled = sum(d.label != d.published for d in decisions)
            print(
                f"{len(decisions)} decisions in {arguments.corrections} ({relabelled} change the label); "
                "run `dvc repro`."
            )
        else:
            server = make_server(queue, arguments.reviewer, arguments.port)
            print(
                f"reviewing {len(queue.candidates)} {arguments.split} candidates at "
                f"http://127.0.0.1:{server.server_address[1]}/ "
                f"(decisions go to {arguments.corrections}; Ctrl-C stops)"
            )
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.server_close()
    except (ValueError, FileNotFoundError) as error:
        print(f"mnist-labels: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
