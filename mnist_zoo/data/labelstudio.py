"""Label Studio's formats for a team that reviews labels there: the candidates as tasks to import
(its JSON task format: each digit's image inline as a PNG data URL, the zoo's suggestion as a
prediction), the labelling config those tasks expect, and a Label Studio JSON export read back as
one answer per example, which then goes through the corrections file's checks like any other
review (mnist-labels import).

Formats: https://labelstud.io/guide/task_format (tasks, annotations, predictions, `choices` results).
"""

import base64
import io
from typing import Any

import numpy as np

from mnist_zoo.config import NUM_CLASSES
from mnist_zoo.data.corrections import EXCLUDE

FROM_NAME, TO_NAME, NOTE_NAME = "label", "image", "note"
NOT_A_DIGIT = "not a digit"
CHOICES = (*map(str, range(NUM_CLASSES)), NOT_A_DIGIT)

LABEL_CONFIG = f"""<View>
  <Header value="$example_id: published label $published (zoo: $suggested)"/>
  <Image name="{TO_NAME}" value="$image" zoom="true" width="280px"/>
  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInline="true" required="true">
{chr(10).join(f'    <Choice value="{choice}"/>' for choice in CHOICES)}
  </Choices>
  <TextArea name="{NOTE_NAME}" toName="{TO_NAME}" placeholder="why (optional)" maxSubmissions="1"/>
</View>
"""


def png_bytes(image: np.ndarray) -> bytes:
    """A 28x28 uint8 digit (light ink on dark, as MNIST stores it) as a PNG, dark ink on light."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(255 - np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def choice_result(choice: str) -> dict[str, Any]:
    return {"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": [choice]}}


def candidate_task(candidate: dict[str, Any], image: np.ndarray, num_models: int) -> dict[str, Any]:
    """One candidate as a Label Studio task; `candidate` is a row of results/label_candidates/."""
    data = {
        "image": png_data_url(image),
        "example_id": str(candidate["id"]),
        "published": str(candidate["published"]),
        "suggested": str(candidate["suggested"]),
        "rank": int(candidate["rank"]),
        "writer": int(candidate["writer"]),
    }
    prediction = {
        "model_version": f"mnist-zoo mean of {num_models}",
        "score": round(1.0 - float(candidate["score"]), 6),  # how sure the zoo is the label is wrong
        "result": [choice_result(str(candidate["suggested"]))],
    }
    return {"data": data, "predictions": [prediction]}


def reviewer_of(annotation: dict[str, Any]) -> str:
    """Who made an annotation: an export's `completed_by` is a user id, or the user with an email."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("username") or who.get("id") or "label-studio")
    return f"label-studio user {who}" if who is not None else "label-studio"


def exported_answers(tasks: Any) -> list[dict[str, str]]:
    """Each task's latest kept annotation, as {id, label (0-9 or exclude), note, decided_by}; tasks
    nobody annotated are skipped. A task or answer this project did not make is refused, naming it."""
    if not isinstance(tasks, list):
        raise ValueError("a Label Studio JSON export is a list of tasks; this file holds something else.")
    answers = []
    for number, task in enumerate(tasks, start=1):
        where = f"task {number} (Label Studio id {task.get('id', '?')})" if isinstance(task, dict) else f"task {number}"
        data = task.get("data", {}) if isinstance(task, dict) else {}
        identifier = data.get("example_id")
        if not identifier:
            raise ValueError(f"{where}: no data.example_id; import the tasks `mnist-labels export` writes.")
        kept = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
        if not kept:
            continue
        latest = max(kept, key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))
        choices = [
            choice
            for result in latest.get("result", [])
            if result.get("from_name") == FROM_NAME and result.get("type") == "choices"
            for choice in result.get("value", {}).get("choices", [])
        ]
        if len(choices) != 1 or choices[0] not in CHOICES:
            raise ValueError(
                f"{where} ({identifier}): the answer is {choices}; expected one of {', '.join(CHOICES)} "
                f"(the labelling config `mnist-labels export` prints)."
            )
        notes = [
            text
            for result in latest.get("result", [])
            if result.get("from_name") == NOTE_NAME
            for text in result.get("value", {}).get("text", [])
        ]
        answers.append(
            {
                "id": str(identifier),
                "label": EXCLUDE if choices[0] == NOT_A_DIGIT else choices[0],
                "note": " ".join(notes),
                "decided_by": reviewer_of(latest),
            }
        )
    return answers
