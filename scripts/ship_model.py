"""Make a trained model directory into a model that ships inside the package.

    python scripts/ship_model.py MODEL_DIR NAME [--pretrained-words 50000] [--card CARD.md]

Writes ``jmt/models/NAME/``: the weights in float16 (prediction widens them to float32
after loading, as ``jmt tag`` does with its embedding tables), the vocabularies with the
pretrained-only words cut to the ``--pretrained-words`` most frequent (the vector files list
words by frequency), the configuration, the dev scores, the segmenter, and ``--card`` as
``MODEL_CARD.md``. ``jmt tag NAME``, ``jmt.load(NAME)`` and the spaCy component's
``{"model": NAME}`` then find it.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

REPO = Path(__file__).resolve().parents[1]
COPIED = ("config.json", "metrics.json", "segmenter.json", "segmenter.safetensors")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("name")
    ap.add_argument("--pretrained-words", type=int, default=50_000)
    ap.add_argument("--card", type=Path)
    ap.add_argument("--slice", type=Path, help="a gold CoNLL-U file whose first sentences the shipped model is "
                                              "scored on, into card.json (tests/test_shipped_model.py checks them)")
    ap.add_argument("--slice-sentences", type=int, default=300)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from jmt.io import FORMAT_VERSION

    out = REPO / "jmt" / "models" / args.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    vocab = json.loads((args.model_dir / "vocab.json").read_text(encoding="utf-8"))
    keep = min(len(vocab["pretrained"]), args.pretrained_words + 1)  # row 0 is padding
    vocab["pretrained"] = vocab["pretrained"][:keep]
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8")
    weights = load_file(str(args.model_dir / "model.safetensors"))
    weights["embed.pretrained"] = weights["embed.pretrained"][:keep]
    # fitted scalars (the relatedness calibration line) keep float32: halving them moves every score
    small = {k: (v.half() if v.is_floating_point() and not k.endswith(".calibration") else v).contiguous()
             for k, v in weights.items()}
    save_file(small, str(out / "model.safetensors"), metadata={"format": "jmt", "version": str(FORMAT_VERSION)})
    (out / "model.safetensors").chmod(0o644)  # safetensors writes 0600; a package's files are for everyone
    for name in COPIED:
        if (args.model_dir / name).is_file():
            shutil.copyfile(args.model_dir / name, out / name)
    # where the corpora lay on the training machine says nothing to a user: file names stay
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    data = config["data"]
    for table in ("train", "dev"):
        data[table] = {task: _file_names(value) for task, value in data[table].items()}
    if data.get("vectors"):
        data["vectors"] = Path(data["vectors"]).name
    if config["train"].get("init_from"):  # a model with tasks added to another: that one, as a user has it
        detached = config["model"].get("detached", [])
        config["train"]["init_from"] = (f"{args.name} without {' and '.join(detached)}" if detached
                                        else Path(config["train"]["init_from"]).name)
    (out / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    name_base(out, args.name, config["model"].get("detached", []))
    if args.card:
        shutil.copyfile(args.card, out / "MODEL_CARD.md")
    if args.slice:
        write_card(out, args.slice, args.slice_sentences)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out.relative_to(REPO)}: {size / 2**20:.1f} MiB, {keep - 1:,} pretrained-only words kept", file=sys.stderr)


def name_base(out: Path, name: str, detached: list[str]) -> None:
    """Call the model that detached tasks were added to by what a user has (``en without feats
    and lemma``) in metrics.json, which `jmt info` prints; its training run's directory name
    means nothing outside the machine it was trained on."""
    path = out / "metrics.json"
    metrics = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if metrics.get("base") and detached:
        metrics["base"]["model"] = f"{name} without {' and '.join(detached)}"
        path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")


def _file_names(value):
    if isinstance(value, list):
        return [_file_names(v) for v in value]
    return value if value.startswith("holdout:") else Path(value).name


def write_card(out: Path, gold_path: Path, n: int) -> None:
    """Score the shipped model (as it loads from ``out``) on the first ``n`` sentences of a
    gold file: UPOS accuracy and LAS on gold tokens, token and sentence F1 of its segmenter."""
    import jmt
    from jmt.data.conllu import read_conllu
    from jmt.segment import score_segmentation

    gold = [s for s, _ in zip(read_conllu(gold_path), range(n))]
    nlp = jmt.load(out)
    scores = nlp.predictor.evaluate_tasks(["upos", "dep"], gold)
    segmentation = score_segmentation(nlp.segmenter, gold)
    card = {"slice_source": gold_path.name, "slice_sentences": n,
            "slice": {"upos": round(scores["upos"]["accuracy"], 2), "las": round(scores["dep"]["las"], 2),
                      "tokens": round(segmentation["tokens"], 2), "sentences": round(segmentation["sentences"], 2)}}
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
