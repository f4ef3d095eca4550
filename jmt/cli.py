"""The ``jmt`` command line: a thin Typer app over the library."""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer

from .config import ConfigError, corpus_paths, guess_language, load_config, parse_overrides
from .data.types import DataError
from .errors import RulesWarning, SlowPrecisionWarning, TrainingError

# rich_markup_mode=None: help text as written ("[model]" and "jmt[encoders]" are not markup)
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="The Joint Many-Task model: tag, chunk, parse, relate and entail.")

def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class errors_to_exit:
    """Turn the errors users cause into one line on stderr and exit code 1, and jmt's own
    warnings into one line on stderr.

    Set ``JMT_DEBUG=1`` to see the traceback instead.
    """

    def __enter__(self):
        self.show_before = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, (SlowPrecisionWarning, RulesWarning)):
                typer.echo(f"warning: {message}", err=True)
            else:
                self.show_before(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        return self

    def __exit__(self, exc_type, exc, tb):
        warnings.showwarning = self.show_before
        if exc is None or os.environ.get("JMT_DEBUG"):
            return False
        if isinstance(exc, BrokenPipeError):  # the reader went away (| head): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0)
        if isinstance(exc, (DataError, ConfigError, OSError, ValueError, TrainingError)):
            fail(str(exc) if not isinstance(exc, OSError) or not exc.filename else f"{exc.filename}: {exc.strerror}")
        if isinstance(exc, KeyboardInterrupt):
            typer.echo("interrupted", err=True)
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130)
        return False


class OutputFile:
    """Where ``jmt tag`` and ``jmt pair`` write: standard output, or ``path`` written through a
    temporary file beside it and renamed at the end, so that a run that fails before writing
    a record leaves a file already there as it was. One that fails later keeps the records
    written until then (call :meth:`wrote` after each), ended by ``tail``. The output may not
    be one of the inputs, which it would empty before they are read."""

    def __init__(self, path: Path | None, inputs: list[str | None] = (), tail: str = ""):
        self.path, self.tail, self.records = path, tail, 0
        if path is None:
            self.file = sys.stdout
            return
        for src in inputs:
            if src is not None and Path(src).exists() and path.exists() and Path(src).samefile(path):
                raise ConfigError(f"{path}: the output is also an input; give -o another file")
        if not path.parent.is_dir():
            raise ConfigError(f"{path}: no such directory {path.parent}")
        self.temp: Path | None = None
        if path.exists() and not path.is_file():  # /dev/null, a pipe: written as it is, never replaced
            self.file = open(path, "w", encoding="utf-8")
            return
        import tempfile

        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        self.temp = Path(name)
        self.file = os.fdopen(fd, "w", encoding="utf-8")

    def wrote(self) -> None:
        self.records += 1

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.path is None:
            return False
        try:
            try:
                if exc is not None and self.records and self.tail:
                    self.file.write(self.tail)
            finally:
                self.file.close()
        except OSError as err:  # a full disk fails at the last flush too
            exc, self.records = exc or err, 0
        if self.temp is not None:
            if exc is None or self.records:
                os.replace(self.temp, self.path)
            else:
                self.temp.unlink()
        if isinstance(exc, OSError) and not exc.filename:  # a full disk: say which file could not be written
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None
        return False


def check_input(path: str | None) -> None:
    """An input that is not there (or is a folder) is an error before any output is opened;
    None is standard input. A pipe (``<(zcat notes.gz)``) is an input like a file."""
    if path is not None and not Path(path).exists():
        raise ConfigError(f"{path}: no such file")
    if path is not None and Path(path).is_dir():
        raise ConfigError(f"{path}: a folder, not a file")


def stdin_text(newline: str | None = None):
    """Standard input as UTF-8 text, strictly: a byte that is not UTF-8 is an error (the
    interpreter's own ``sys.stdin`` may pass it on as a surrogate). A byte-order mark is dropped."""
    import io

    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text-only stream (a test's, say)
        return sys.stdin
    return io.TextIOWrapper(buffer, encoding="utf-8-sig", errors="strict", newline=newline)


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as Ctrl-C is: what `kill`, job schedulers and torchrun send, and what a
    run started in the background (which ignores SIGINT) still hears."""


@contextmanager
def sigterm_as_interrupt():
    """Inside: SIGTERM raises :class:`Terminated` (from the main thread only, where Python runs
    signal handlers), so training stops with a checkpoint and the line that resumes it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Terminated

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def parse_task_paths(values: list[str] | None, option: str, several: bool = False) -> dict:
    """``TASK=PATH`` options by task; with ``several``, a task given twice trains on both
    corpora (a list of paths), otherwise that is an error."""
    out: dict[str, str | list[str]] = {}
    for value in values or []:
        task, sep, path = value.partition("=")
        if not sep or not path:
            raise typer.BadParameter(f"expected TASK=PATH, got {value!r}", param_hint=option)
        from .tasks import TASKS

        if task not in TASKS:
            raise typer.BadParameter(f"unknown task {task!r}; tasks are {', '.join(TASKS)}", param_hint=option)
        if task in out:
            if not several:
                raise typer.BadParameter(f"{task} is given twice ({out[task]} and {path}); a task has one",
                                         param_hint=option)
            out[task] = [*corpus_paths(out[task]), path]
        else:
            out[task] = path
    return out


def sample_dir() -> Path:
    """The shipped sample corpora: ``corpora/sample`` here or beside the installed package."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (base / "corpora" / "sample" / "train.conllu").is_file():
            return base / "corpora" / "sample"
    raise ConfigError("no corpus given and the sample corpora (corpora/sample) were not found; "
                      "use --train TASK=PATH")


DEVICE_HELP = "auto (a GPU when torch sees one), cpu, cuda or cuda:N."
BATCH_HELP = ("Sentences (or pairs) per batch [default: 128 on a CPU, 512 on a GPU]; a batch also holds at most "
              "3,000 words on a CPU, 25,000 on a GPU.")
THREADS_HELP = "CPU threads (default: torch's, one per core); a batch runs on each, up to four at once."
PRECISION_HELP = ("fp32; bf16: the LSTMs and label scorer in bfloat16, faster on CPUs with bf16 units "
                  "(AMX or AVX512-BF16), several times slower without, predictions slightly different; auto: bf16 where it is faster.")


@app.command()
def train(
    ctx: typer.Context,
    config: Optional[Path] = typer.Argument(None, help="TOML file with [model], [train] and [data] tables."),
    output_text: Optional[str] = typer.Option(None, "-o", "--output", help="Directory for the trained model."),
    train_paths: Optional[List[str]] = typer.Option(
        None, "--train", help="TASK=PATH, repeatable; a task given twice trains on both corpora, a pass each."),
    dev_paths: Optional[List[str]] = typer.Option(None, "--dev", help="TASK=PATH or TASK=holdout:0.1, repeatable."),
    vectors: Optional[str] = typer.Option(None, "--vectors", help="Pretrained vectors, GloVe or word2vec text (.gz ok)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs to train (default 10, or the TOML file's)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed of the weights, batches and dropout (default 1)."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="sgd (the paper) or adam."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Initial learning rate."),
    lower_lr_scale: Optional[float] = typer.Option(
        None, "--lower-lr-scale", help="Learning-rate factor for the layers below the task trained (1 = the paper)."),
    resume: Optional[Path] = typer.Option(
        None, "--resume", help="Continue the run whose output directory this is, from its last checkpoint."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="jmt (task-ordered passes), joint or uncertainty."),
    task_order: Optional[str] = typer.Option(None, "--task-order", help="bottom-up (the paper) or random."),
    dep_scorer: Optional[str] = typer.Option(None, "--dep-scorer", help="bilinear (the paper) or biaffine."),
    sharing: Optional[str] = typer.Option(None, "--sharing", help="hard (one shared stack, the paper), soft, cross-stitch or sluice."),
    shortcut: Optional[bool] = typer.Option(None, "--shortcut/--no-shortcut", help="Word representation to every layer."),
    vertical: Optional[bool] = typer.Option(None, "--vertical/--no-vertical", help="Each layer reads the one below."),
    label_embeddings: Optional[bool] = typer.Option(None, "--label-embeddings/--no-label-embeddings",
                                                    help="Lower tasks' label embeddings feed the layers above."),
    successive: Optional[bool] = typer.Option(
        None, "--successive-regularization/--no-successive-regularization",
        help="The paper's penalty on moving the layers below the task trained (task-ordered schedule; on by default)."),
    char_ngrams: Optional[bool] = typer.Option(None, "--char-ngrams/--no-char-ngrams",
                                               help="Character n-gram embeddings in the word representation."),
    word_embeddings: Optional[bool] = typer.Option(None, "--word-embeddings/--no-word-embeddings",
                                                   help="The word table (and pretrained vectors) in the word representation."),
    growing_depth: Optional[bool] = typer.Option(None, "--growing-depth/--no-growing-depth",
                                                 help="Each task at its own depth, or all on the top layer."),
    chunk_crf: Optional[bool] = typer.Option(None, "--chunk-crf/--no-chunk-crf",
                                             help="Chunk tags from a linear-chain CRF instead of a softmax per word."),
    no_vectors: bool = typer.Option(False, "--no-vectors", help="Ignore pretrained vectors named in the config."),
    encoder: Optional[str] = typer.Option(
        None, "--encoder", help="A pretrained transformer under the stack: a Hugging Face name or folder "
                                "(needs pip install 'jmt[encoders]')."),
    keep_epochs: bool = typer.Option(False, "--keep-epochs", help="Also save every epoch's model in OUT/epoch<N>."),
    average_last: Optional[int] = typer.Option(
        None, "--average-last", min=0, metavar="N",
        help="After training, average the weights of the last N epochs and keep the average unless it scores "
             "lower on dev than the selected epoch (0: off). May be given with --resume."),
    calibrate: Optional[bool] = typer.Option(
        None, "--calibrate/--no-calibrate", help="Fit the relatedness scores to the dev pairs after training (default on)."),
    select_metric: Optional[str] = typer.Option(
        None, "--select-metric", help="The dev score that picks the saved epoch: TASK.METRIC (e.g. dep.las), "
                                      "auto (dep LAS, else the mean of the tasks' main scores) or last."),
    init_from: Optional[Path] = typer.Option(
        None, "--init-from", help="Fine-tune: start from this model's weights and vocabularies (a directory, or a shipped model's name); a task it lacks is added, detached."),
    freeze_below: Optional[int] = typer.Option(
        None, "--freeze-below", min=0,
        help="Keep the parameters below this depth as they are (0 words, 1 POS, 2 chunk, 3 dep, 4 relatedness, "
             "5 entailment)."),
    segmenter: Optional[bool] = typer.Option(
        None, "--segmenter/--no-segmenter", help="Also train a segmenter for raw text on the CoNLL-U corpus of dep/upos/xpos."),
    lang: Optional[str] = typer.Option(None, "--lang", help="The corpora's language (ISO 639, e.g. fr); "
                                                            "default: read from UD file names."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    set_values: Optional[List[str]] = typer.Option(
        None, "--set", metavar="SECTION.KEY=VALUE",
        help="Any config key, repeatable: --set train.lr=0.001 --set model.hidden=150 (checked like the TOML file)."),
):
    """Train a model; with no corpus given, on the sample corpora in corpora/sample."""
    # a string first: an empty -o "" would become Path("."), the current directory
    output = None if output_text is None else Path(output_text) if output_text.strip() else ""
    train_map = parse_task_paths(train_paths, "--train", several=True)
    dev_map = parse_task_paths(dev_paths, "--dev")
    with errors_to_exit():
        # the flags above are shorthands for config keys; both beat the config file
        settings = {**parse_overrides(set_values or []), **flag_settings(ctx.params)}
    from .train import train as run_training

    if resume is not None:
        others = [name for name, value in (("CONFIG", config), ("--train", train_paths), ("--dev", dev_paths),
                                           ("--no-vectors", no_vectors), ("--keep-epochs", keep_epochs)) if value]
        flags = {param.name: "/".join(param.opts + param.secondary_opts) for param in ctx.command.params}
        others += [flags[name] for name, key in TRAIN_FLAGS.items()
                   if ctx.params.get(name) is not None and key not in RESUME_SETTINGS]
        others += [f"--set {key}" for key in parse_overrides(set_values or []) if key not in RESUME_SETTINGS]
        if others or (output is not None and output != resume):
            fail(f"--resume takes the configuration from the checkpoint; drop {', '.join(others) or '-o'} "
                 "(only --epochs and --average-last may change)", code=2)
        with errors_to_exit():
            from .checkpoint import load_checkpoint
            from .config import Config, apply_settings, from_dict

            cfg = from_dict(Config, apply_settings(json.loads(load_checkpoint(resume)["config"]), settings))
            run_distributed(lambda dist: run_training(cfg, resume, resume=True, dist=dist, device=device), resume, device)
        return
    if not output:
        fail("missing option -o / --output: the directory for the trained model", code=2)
    with errors_to_exit():
        if no_vectors:
            settings["data.vectors"] = None
        if keep_epochs:
            settings["train.keep_epoch_models"] = True
        cfg = load_config(config, settings)
        if config is not None:
            check_config_paths(cfg, config, train_map, dev_map, settings)
        cfg.data.train.update(train_map)  # the command line wins over the config file, task by task
        cfg.data.dev.update(dev_map)
        if not cfg.data.train:
            if cfg.train.init_from is not None:
                raise ConfigError("--init-from needs --train: the corpora of the tasks to fine-tune")
            if dev_map:
                raise ConfigError("--dev given without --train")
            samples = sample_dir()  # the quickstart
            from .tasks import TASKS

            with_samples = {name: task.sample for name, task in TASKS.items() if task.sample}
            cfg.data.train = {name: str(samples / train) for name, (train, _) in with_samples.items()}
            cfg.data.dev = {name: str(samples / dev) for name, (_, dev) in with_samples.items()}
        if cfg.data.lang is None:
            cfg.data.lang = guess_language(p for v in cfg.data.train.values() for p in corpus_paths(v))
        run_distributed(lambda dist: run_training(cfg, output, dist=dist, device=device), output, device)


def check_config_paths(cfg, config: Path, train_map: dict, dev_map: dict, settings: dict) -> None:
    """A corpus or vectors file that the recipe names and that is not there is an error that
    names the recipe too: its relative paths are read from the working directory, not from
    the recipe's folder, which is easy to get wrong."""
    from .train import HOLDOUT

    named = [(f"train.{task}", path) for task, value in cfg.data.train.items() if task not in train_map
             for path in corpus_paths(value)]
    named += [(f"dev.{task}", path) for task, path in cfg.data.dev.items()
              if task not in dev_map and not str(path).startswith(HOLDOUT)]
    named += [("vectors", cfg.data.vectors)] if cfg.data.vectors and "data.vectors" not in settings else []
    for key, path in named:
        if not Path(path).exists():
            where = "" if Path(path).is_absolute() else " (a relative path is read from the working directory)"
            raise ConfigError(f"{config}: [data] {key} = {path!r}: no such file{where}")


# The config key that each shorthand flag of `jmt train` sets (the flag's parameter name -> SECTION.KEY).
TRAIN_FLAGS = {
    "vectors": "data.vectors", "lang": "data.lang",
    "epochs": "train.epochs", "seed": "train.seed", "optimizer": "train.optimizer", "lr": "train.lr",
    "lower_lr_scale": "train.lower_lr_scale", "schedule": "train.schedule", "task_order": "train.task_order",
    "successive": "train.successive_regularization", "calibrate": "train.calibrate",
    "select_metric": "train.select_metric", "average_last": "train.average_last", "init_from": "train.init_from",
    "freeze_below": "train.freeze_below", "segmenter": "train.segmenter",
    "encoder": "model.encoder", "dep_scorer": "model.dep_scorer", "sharing": "model.sharing",
    "shortcut": "model.shortcut", "vertical": "model.vertical", "label_embeddings": "model.label_embeddings",
    "char_ngrams": "model.char_ngrams", "word_embeddings": "model.word_embeddings",
    "growing_depth": "model.growing_depth", "chunk_crf": "model.chunk_crf",
}
RESUME_SETTINGS = ("train.epochs", "train.average_last")  # what a resumed run may change


def flag_settings(params: dict) -> dict:
    """The config keys that the shorthand flags given set (``TRAIN_FLAGS``)."""
    return {key: str(params[name]) if isinstance(params[name], Path) else params[name]
            for name, key in TRAIN_FLAGS.items() if params.get(name) is not None}


@app.command("train-segmenter")
def train_segmenter_command(
    model_dir: Path = typer.Argument(..., help="The model directory to add the segmenter to (made if absent)."),
    train_path: Path = typer.Option(..., "--train", help="A CoNLL-U treebank with # text lines (and SpaceAfter=No)."),
    dev_path: Optional[Path] = typer.Option(None, "--dev", help="A CoNLL-U treebank that chooses the epoch."),
    epochs: int = typer.Option(80, "--epochs", min=1),
    seed: int = typer.Option(1, "--seed"),
    lang: Optional[str] = typer.Option(None, "--lang", help="Its language (ISO 639); default: read from UD file names."),
    tables_only: bool = typer.Option(
        False, "--tables-only", help="Keep the model's trained segmenter network; only learn its tables "
                                     "(multiword splits, forms split or kept whole) again from --train."),
):
    """Train a segmenter for raw text (sentences, tokens, multiword tokens) into a model directory."""
    with errors_to_exit():
        from .segment import SegmenterConfig, relearn_tables, train_segmenter

        if tables_only:
            scores = relearn_tables(model_dir, train_path, dev_path)
            typer.echo(f"segmenter tables of {model_dir} learned from {train_path}"
                       + (f"; dev F1 (exact spans): tokens {scores['tokens']:.2f}, words {scores['words']:.2f}, "
                          f"sentences {scores['sentences']:.2f}" if scores else ""), err=True)
            return
        lang = lang or guess_language([str(train_path)])
        scores = train_segmenter(train_path, dev_path, model_dir, SegmenterConfig(epochs=epochs, seed=seed), lang=lang,
                                 log=lambda line: typer.echo(line, err=True))
        if dev_path is not None:
            typer.echo(f"segmenter saved to {model_dir}; dev F1 (exact spans): tokens {scores['tokens']:.2f}, "
                       f"words {scores['words']:.2f}, sentences {scores['sentences']:.2f}", err=True)


DECODER_HELP = "Dependency trees: greedy+eisner (the model's default unless trained otherwise), greedy, eisner, chu-liu-edmonds."


def set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def set_decoder(model, decoder: str | None) -> None:
    """Use another tree decoder than the one the model was trained with."""
    if decoder is None:
        return
    from .decode import DECODERS

    if decoder not in DECODERS:
        raise ConfigError(f"--decoder must be one of {', '.join(DECODERS)}, not {decoder!r}")
    parsers = [head for head in model.heads.values() if hasattr(head, "decoder")]
    if not parsers:
        raise ConfigError("--decoder: the model has no dependency parser")
    for head in parsers:
        head.decoder = decoder


def run_distributed(run, output: Path, device: str = "auto") -> None:
    """Run training alone or, under torchrun, as one rank of a process group."""
    from .distributed import init_from_environment, shutdown

    dist = init_from_environment(device)
    try:
        with sigterm_as_interrupt():
            best = run(dist)
    finally:
        shutdown()
    if dist is None or dist.is_main:
        averaged = best.get("averaged_epochs") if best else None
        where = (f"epochs {averaged[0]}-{averaged[-1]} averaged" if averaged
                 else f"epoch {best['epoch']}" if best else "the last epoch")
        typer.echo(f"saved the model of {where} to {output}", err=True)


def format_metrics(results: dict[str, dict]) -> str:
    lines = []
    for task, scores in results.items():
        flat = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
        lines.append(f"{task:<12} " + "  ".join(
            f"{k} {v:.4f}" if k in ("pearson", "spearman", "mse") else (f"{k} {v}" if isinstance(v, int) else f"{k} {v:.2f}")
            for k, v in flat.items()))
        for ctype, s in scores.get("per_type", {}).items():  # span tasks
            lines.append(f"  {ctype:<10} f1 {s['f1']:.2f}  precision {s['precision']:.2f}  recall {s['recall']:.2f}  support {s['support']}")
        if "confusion" in scores:  # classifiers
            conf = scores["confusion"]
            lines.append("  confusion (rows gold, columns predicted): " + " ".join(label[:4] for label in conf["labels"]))
            for label, row in zip(conf["labels"], conf["matrix"]):
                lines.append(f"    {label:<14}" + " ".join(f"{v:>5}" for v in row))
    return "\n".join(lines)


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="A trained model directory."),
    test_paths: List[str] = typer.Option(..., "--test", help="TASK=PATH, repeatable."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the scores as JSON."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help=BATCH_HELP, show_default=False),
    decoder: Optional[str] = typer.Option(None, "--decoder", help=DECODER_HELP),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
    precision: str = typer.Option("fp32", "--precision", help=PRECISION_HELP),
):
    """Score a trained model on test corpora and print a table."""
    tests = parse_task_paths(test_paths, "--test")
    set_threads(threads)
    if json_path is not None and not json_path.parent.is_dir():  # before the evaluation, not after it
        fail(f"{json_path}: no such directory {json_path.parent}")
    with errors_to_exit():
        from .data.corpus import check_trees, read_corpus, require_annotation
        from .tasks import TASKS
        from .api import model_path
        from .io import load_model
        from .memory import fix_malloc_thresholds, frozen_objects
        from .predict import TABLE_DTYPE, Predictor, check_precision

        check_precision(precision)  # a wrong value fails before the model loads
        fix_malloc_thresholds()
        model, vocabs, _ = load_model(model_path(model_dir), device, table_dtype=TABLE_DTYPE)  # as jmt tag loads it
        set_decoder(model, decoder)
        missing = [t for t in tests if t not in model.tasks]
        if missing:
            raise ConfigError(f"the model has no task {missing[0]!r}; it has {', '.join(model.tasks)}")
        # a frozen encoder's states of test sets, scored again and again, come from the disk cache
        predictor = Predictor(model, vocabs, batch_size, precision=precision, cache=True)
        by_path: dict[str, list[str]] = {}
        for task, path in tests.items():
            by_path.setdefault(path, []).append(task)
        results = {}
        for path, tasks in by_path.items():
            gold = read_corpus(path, tasks[0])
            for task in tasks[1:]:
                require_annotation(gold, task, path)
            trees = any(TASKS[t].field == "heads" for t in tasks)  # as training checks its corpora
            if trees:
                check_trees(gold, path)  # a gold "tree" with a cycle or two roots cannot be scored
            if trees and all(getattr(s, "deprels", None) is None for s in gold):
                typer.echo(f"note: {path} has no DEPREL labels, so its LAS counts heads only (as UAS)", err=True)
            with frozen_objects():
                results.update(predictor.evaluate_tasks(tasks, gold))
        results = {task: results[task] for task in tests}
        typer.echo(format_metrics(results))
        if json_path is not None:
            json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def fresh_sent_id(sentence, n: int, ids: set[str]) -> str:
    """The ``# sent_id`` for the n-th sentence where the input gives none: ``n``, or ``n.1``,
    ``n.2``... where the input already named a sentence so (ids in a file must be unique)."""
    own = [line.partition("=")[2].strip() for line in (sentence.conllu.comments if sentence.conllu else ())
           if line.startswith("# sent_id")]
    if own:
        ids.update(own)
        return own[0]
    fresh, k = str(n), 0
    while fresh in ids:
        k += 1
        fresh = f"{n}.{k}"
    ids.add(fresh)
    return fresh


@app.command()
def calibrate(
    model_dir: Path = typer.Argument(..., help="A trained model directory with a relatedness task."),
    pairs_path: str = typer.Argument(..., metavar="PAIRS", help="Held-out pairs with gold relatedness (SICK file, JSON lines)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    min_pairs: int = typer.Option(50, "--min-pairs", min=2, help="Refuse to fit on fewer pairs than this."),
):
    """Fit the model's relatedness scores to held-out pairs (a least-squares line; `jmt train` does it on the dev pairs)."""
    with errors_to_exit():
        from .calibrate import calibrate as fit_line, calibrated_tasks
        from .data.corpus import read_corpus
        from .tasks import TASKS

        task = next(iter(calibrated_tasks(TASKS)))
        fit = fit_line(model_dir, read_corpus(pairs_path, task), batch_size, min_pairs)
        typer.echo(f"{fit['task']} = {fit['scale']:.4f} x expected score + {fit['shift']:.4f} on {fit['pairs']} pairs: "
                   f"MSE {fit['dev_mse_before']:.4f} -> {fit['dev_mse_after']:.4f} on these pairs; "
                   f"written to {Path(model_dir) / 'model.safetensors'}")


@app.command()
def info(model_dir: Path = typer.Argument(..., help="A trained model directory.")):
    """Show a model's tasks, label sets, sizes and dev scores."""
    with errors_to_exit():
        from .api import model_path
        from .io import load_metrics, load_model

        model_dir = model_path(model_dir)
        model, vocabs, cfg = load_model(model_dir, encoder=False)  # shown without transformers too
        metrics = load_metrics(model_dir)  # before anything is shown: a damaged record is the one line
        n_params = sum(p.numel() for p in model.parameters())
        typer.echo(f"model      {model_dir}")
        typer.echo(f"tasks      {', '.join(t + (' (detached)' if t in cfg.model.detached else '') for t in model.tasks)}")
        for key, sharing in sorted(model.reader_tasks.items()) if cfg.model.shared_reader else []:
            typer.echo(f"readers    {', '.join(sharing)} read the {key} layer through one BiLSTM (model.shared_reader)")
        typer.echo(f"parameters {n_params:,}")
        if model.stitches:
            typer.echo(format_stitches(model))
        if cfg.model.encoder:
            m = cfg.model
            typer.echo(f"encoder    {m.encoder} ({m.encoder_layers} layers of {m.encoder_dim}, weights sha256 "
                       f"{m.encoder_sha256[:12]}), {m.encoder_pooling} of each word's pieces, "
                       + ("fine-tuned with the model" if m.encoder_trainable else "frozen")
                       + ("; the pair heads also read its sentence vectors" if m.encoder_sentence else "")
                       + encoder_parameters(model, str(model_dir)))
        typer.echo(f"vocabulary {len(vocabs.words):,} words trained, {len(vocabs.pretrained) - 1:,} pretrained only, "
                   f"{len(vocabs.ngrams):,} character n-grams")
        for name, labels in vocabs.labels.items():
            shown: list[str] = []
            for label in labels.itos[:60]:  # up to 60, and a line's worth of long ones (FEATS strings)
                if shown and sum(len(x) + 1 for x in shown) + len(label) > 400:
                    break
                shown.append(label)
            typer.echo(f"labels     {name} ({len(labels)}): {' '.join(shown)}" + (" ..." if len(shown) < len(labels) else ""))
        if metrics:
            typer.echo(f"dev scores of {epochs_of(metrics)}:")
            typer.echo(format_metrics(metrics.get("dev", {})))
            base = metrics.get("base")
            if base and base.get("dev"):
                typer.echo(f"dev scores of the model the detached tasks were added to ({base['model']}, "
                           f"{epochs_of(base)}), which the other tasks predict as:")
                typer.echo(format_metrics(base["dev"]))
            elif cfg.model.detached and set(metrics.get("dev", {})) <= set(cfg.model.detached):
                typer.echo("  (the run that added the detached tasks trained them alone: the other tasks predict "
                           "as the model they were added to did)")
        from .segment import has_segmenter, load_segmenter

        if has_segmenter(model_dir):
            meta = load_segmenter(model_dir).meta
            dev = meta.get("dev_scores") or {}
            lang = f" ({meta['lang']})" if meta.get("lang") else ""
            scores = (f"; dev F1 tokens {dev['tokens']:.2f}, words {dev['words']:.2f}, sentences {dev['sentences']:.2f}"
                      if "tokens" in dev else "")
            typer.echo(f"segmenter  for raw text{lang}, trained on {meta.get('train')}{scores}")
        elif cfg.data.lang in (None, "en"):
            typer.echo("segmenter  none: raw text is split by spaCy's English rules")
        else:
            typer.echo(f"segmenter  none: raw text is refused (no rules for {cfg.data.lang}); give tokens or CoNLL-U")
        from .calibrate import calibrated_tasks

        fit = metrics.get("calibration")
        if fit:
            task = fit.get("task") or next(iter(calibrated_tasks(model.heads)), "")  # older records name none
            typer.echo(f"{task} calibrated on {fit['pairs']} dev pairs: {fit['scale']:.4f} x expected score "
                       f"+ {fit['shift']:.4f}")


def encoder_parameters(model, where: str) -> str:
    """The encoder's own parameter count for `jmt info`, or why it is not loaded here (the
    rest of the model is shown without it, e.g. where transformers is not installed)."""
    from .model.encoder import load_encoder

    m = model.cfg
    try:
        encoder = load_encoder(m.encoder, m.encoder_sha256, m.encoder_pooling, where)
    except ConfigError as err:
        return f"; not loaded here ({str(err).split('; ', 1)[-1]})"
    return f"; {sum(p.numel() for p in encoder.net.parameters()):,} parameters of its own"


def format_stitches(model) -> str:
    """A stitched model's learned sharing: each level's alpha (rows: the column that reads,
    columns: the column read; with subspaces, each column's parts summed) and each column's beta."""
    m = model.cfg
    lines = [f"sharing    {m.sharing}" + (f", {m.subspaces} subspaces" if m.sharing == "sluice" else "")]
    for level, stitch in model.stitches.items():
        columns = model.columns_at(level)
        k = stitch.subspaces
        alpha = stitch.alpha.detach().view(len(columns), k, len(columns), k).sum(3).mean(1)  # column to column
        lines.append(f"{'alpha ' + level + ' (row reads column)':<32}" + " ".join(f"{c:>8}" for c in columns))
        lines += [f"{c:>31} " + " ".join(f"{v:8.3f}" for v in row.tolist()) for c, row in zip(columns, alpha)]
    for column, beta in model.betas.items():
        levels = list(model.columns[column])
        lines.append(f"beta {column:<12} " + "  ".join(f"{lv} {v:.3f}" for lv, v in zip(levels, beta.detach().tolist())))
    return "\n".join(lines)


@app.command()
def plot(
    run_dir: Path = typer.Argument(..., help="A training output directory, or an ablation runner's output."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Directory for the PNG files (default: RUN_DIR)."),
):
    """Draw a run's dev scores by epoch (dev_curves.png), a sweep's table (ablations.png, curves.png), and a cross-stitch or sluice model's alpha and beta (sharing.png)."""
    with errors_to_exit():
        from .plot import plot_run

        for path in plot_run(run_dir, output):
            typer.echo(f"wrote {path}", err=True)


@app.command()
def tag(
    model_dir: Path = typer.Argument(..., help="A trained model directory, or the name of a shipped model (en)."),
    inputs: Optional[List[str]] = typer.Argument(None, help="Input files; standard input when none, or where one is -."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file; standard output when absent."),
    input_format: str = typer.Option("auto", "--input-format",
                                     help="raw, tokenized (one sentence a line) or conllu; auto: conllu for a "
                                          "file named *.conllu, raw otherwise."),
    one_sentence_per_line: bool = typer.Option(False, "--one-sentence-per-line", help="Raw text: keep the line splits."),
    tokenizer: Optional[str] = typer.Option(
        None, "--tokenizer", help="Raw text: model (the model's trained segmenter, the default where it has one) "
                                  "or spacy (spaCy's English rules)."),
    output_format: str = typer.Option("conllu", "--format", help="conllu, jsonl or html."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated tasks, e.g. upos,chunk; default all."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help=BATCH_HELP, show_default=False),
    chunk_size: int = typer.Option(2000, "--chunk-size", min=1, help="Sentences read and written at a time."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="CoNLL-U input: report a malformed sentence and go on."),
    decoder: Optional[str] = typer.Option(None, "--decoder", help=DECODER_HELP),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
    precision: str = typer.Option("fp32", "--precision", help=PRECISION_HELP),
):
    """Tag text files: POS, chunks, dependency trees, and UD features and lemmas where the model has them."""
    set_threads(threads)
    from .tagging_io import INPUT_FORMATS, OUTPUT_FORMATS

    if input_format not in INPUT_FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(INPUT_FORMATS)}", param_hint="--input-format")
    if output_format not in OUTPUT_FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(OUTPUT_FORMATS)}", param_hint="--format")
    with errors_to_exit():
        from .api import load
        from .memory import fix_malloc_thresholds, frozen_objects
        from .tagging_io import HTML_HEAD, HTML_TAIL, batched, input_format_of, read_input, write_sentence

        fix_malloc_thresholds()  # flat memory over long inputs
        nlp = load(model_dir, batch_size, device, precision, tokenizer)
        set_decoder(nlp.model, decoder)
        chosen = nlp.predictor.token_tasks(tasks.split(",") if tasks else None)
        if not chosen:
            raise ConfigError(f"the model has no token task to tag with; it has {', '.join(nlp.tasks)}")
        sources = [None if src == "-" else src for src in inputs] if inputs else [None]  # None: stdin
        for src in sources:  # a missing input fails before anything is written
            check_input(src)
        with OutputFile(output, sources, HTML_TAIL if output_format == "html" else "") as sink:
            out = sink.file
            skipped = []

            def report(err: DataError) -> None:
                skipped.append(err)
                typer.echo(f"warning: {err} (sentence skipped)", err=True)

            on_error = report if skip_bad else None
            formats = [input_format_of(src, input_format) for src in sources]
            segmenter = nlp.segmenter if "raw" in formats else None
            # raw text keeps its line ends as they are, from a file or from standard input
            stdin = stdin_text("" if formats[sources.index(None)] == "raw" else None) if None in sources else None
            sentences = (s for src, form in zip(sources, formats)
                         for s in read_input(src, stdin, form, one_sentence_per_line, on_error, segmenter))
            if output_format == "html":
                out.write(HTML_HEAD)
            n, ids = 0, set()  # the sent_ids written so far, the input's own among them
            with word_rate() as count, frozen_objects():
                for chunk in batched(sentences, chunk_size):  # the sentences before a bad one come first
                    for sentence, pred in zip(chunk, nlp.predictor.tag(chunk, chosen)):
                        n += 1
                        write_sentence(out, output_format, sentence, pred, sent_id=fresh_sent_id(sentence, n, ids))
                        sink.wrote()
                    out.flush()
                    count(sum(len(s) for s in chunk))
            if output_format == "html":
                out.write(HTML_TAIL)
            if skipped:
                typer.echo(f"skipped {len(skipped)} malformed sentence{'s' if len(skipped) > 1 else ''}", err=True)


@app.command()
def pair(
    model_dir: Path = typer.Argument(..., help="A trained model directory."),
    pairs_path: str = typer.Argument(..., metavar="PAIRS", help="SICK file, NLI JSON lines, or premise<TAB>hypothesis lines; - for standard input."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file; standard output when absent."),
    output_format: str = typer.Option("tsv", "--format", help="tsv or jsonl."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help=BATCH_HELP, show_default=False),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
    precision: str = typer.Option("fp32", "--precision", help=PRECISION_HELP),
):
    """Score sentence pairs: relatedness (1-5), entailment label and class probabilities."""
    set_threads(threads)
    if output_format not in ("tsv", "jsonl"):
        raise typer.BadParameter("expected tsv or jsonl", param_hint="--format")
    with errors_to_exit():
        from .api import load
        from .memory import fix_malloc_thresholds, frozen_objects
        from .tagging_io import batched, read_pairs
        from .tasks import TASKS, names

        fix_malloc_thresholds()
        nlp = load(model_dir, batch_size, device, precision)
        try:  # before any output is opened
            has = set(nlp.predictor.pair_tasks())
        except ValueError as err:
            raise ConfigError(f"{nlp.path}: {err}; it tags and parses: jmt tag") from None
        check_input(None if pairs_path == "-" else pairs_path)  # before anything is written
        with OutputFile(output, [None if pairs_path == "-" else pairs_path]) as sink:
            out = sink.file
            columns = [TASKS[t] for t in names("pair")]  # every pair task's, "_" where the model lacks it
            if output_format == "tsv":
                out.write("\t".join(["pair_ID", *(c for task in columns for c in task.tsv_columns())]) + "\n")
            n = 0
            with frozen_objects():
                for chunk in batched(read_pairs(pairs_path, stdin_text() if pairs_path == "-" else None), 1000):
                    for p, r in zip(chunk, nlp.predictor.pair(chunk)):
                        n += 1
                        pid = p.pair_id or str(n)
                        if output_format == "jsonl":
                            out.write(json.dumps({"pair_id": pid, **r}) + "\n")
                        else:
                            out.write("\t".join([pid, *(v for task in columns
                                                         for v in task.tsv(r if task.name in has else None))]) + "\n")
                        sink.wrote()
                    out.flush()


def epochs_of(record: dict) -> str:
    """Which weights a metrics record scores: one epoch's, or several epochs' averaged."""
    averaged = record.get("averaged_epochs")
    return f"epochs {averaged[0]}-{averaged[-1]} averaged" if averaged else f"epoch {record.get('epoch')}"


class word_rate:
    """Words tagged and words/s on stderr while it is a terminal; silent otherwise."""

    def __enter__(self):
        if not sys.stderr.isatty():
            return lambda n: None
        import time

        from rich.console import Console
        from rich.progress import Progress, TextColumn

        self.progress = Progress(TextColumn("{task.completed:,} words, {task.fields[rate]} words/s"),
                                 console=Console(stderr=True), transient=True)
        self.progress.start()
        task = self.progress.add_task("tag", total=None, rate="-")
        start = time.perf_counter()

        def count(n: int) -> None:
            done = self.progress.tasks[0].completed + n
            self.progress.update(task, completed=done, rate=f"{done / (time.perf_counter() - start):,.0f}")

        return count

    def __exit__(self, *exc):
        if hasattr(self, "progress"):
            self.progress.stop()
        return False


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
