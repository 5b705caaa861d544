"""Build the static page (site/): draw a digit and every default variant answers in the browser,
from data/export/<name>.onnx through ONNX Runtime Web; with the leaderboard (results/metrics.json),
the cards (results/cards/), each model's confusion matrix and worst mistakes (plots/) and its
"not a digit" thresholds (metrics/robustness/). Serve it with `python -m http.server -d site`.
Needs ONNX Runtime Web in web/vendor/ (`npm ci`); without it, writes a page saying so.
Run alone: `python -m stages.site` (or `dvc repro site`).
"""

import logging

from mnist_zoo import config, runtime
from mnist_zoo.params import load_params
from mnist_zoo.reporting.site import ENABLE, SITE_DIR, WEB_DIR, Sources, build

log = logging.getLogger("site")


def main() -> bool:
    params = load_params()
    names = list(params["train"]["variants"])
    sources = Sources(
        web=WEB_DIR,
        export=config.EXPORT_DIR,
        robustness=config.ROBUSTNESS_DIR,
        confusion=config.CONFUSION_DIR,
        misclassified=config.MISCLASSIFIED_DIR,
        results=config.RESULTS_DIR,
    )
    built = build(names, SITE_DIR, sources, params["data"]["subset"] or None)  # 0: all 60,000
    if built:
        log.info("wrote %s/ (%d models); open it with `python -m http.server -d %s`", SITE_DIR, len(names), SITE_DIR)
    else:
        log.warning("skipped: ONNX Runtime Web is not installed in %s/vendor; to build the page, %s", WEB_DIR, ENABLE)
    return built


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    runtime.start()
    main()
