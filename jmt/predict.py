"""Batched prediction with a trained stack: sentences in, annotations out."""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterable, Sequence

import torch

from .data.batch import EncodedSentence, batch_indices, collate_pairs, collate_sentences, encode_pair
from .data.types import Pair, Sentence
from .data.vocab import Vocabularies
from .errors import SlowPrecisionWarning
from .model import JointManyTask


MAX_LENGTH = 400  # longer sentences are tagged and parsed in pieces of this many words
MAX_BATCH_TOKENS = 3000  # sentences x longest length per prediction batch (128 x 23 words)
BATCH_SIZE = 128  # sentences per prediction batch, within MAX_BATCH_TOKENS; results/speed.md 2026-12-05
# On a GPU larger batches keep it busy: 512 sentences and 25,000 tokens tagged the full stack
# 1.3x and POS alone 1.3x faster than 64 and 3,000 on an H200 (results/gpu.md, 2026-11-28).
GPU_MAX_BATCH_TOKENS = 25_000
GPU_BATCH_SIZE = 512


MAX_WORKERS = 4  # by default; more would mean small batches, as the workers share the token budget
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "auto": None}  # see JointManyTask.set_precision
TABLE_DTYPE = torch.float16  # the embedding tables of a model loaded to predict (jmt.io.load_model)


def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX, or AVX512-BF16).
    Without them oneDNN emulates bf16, and prediction in bf16 is several times slower than in
    float32 (``results/speed.md``)."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # torch's own CPU probes
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def check_precision(precision: str) -> None:
    """A wrong value is an error before any model loads."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected {', '.join(PRECISIONS)}")


def precision_dtype(precision: str, device: torch.device | str = "cpu") -> torch.dtype:
    """The dtype of ``precision`` for a model on ``device``. ``auto`` is bf16 on a CPU with
    bf16 units and float32 anywhere else; ``bf16`` on a CPU without them warns
    (:class:`SlowPrecisionWarning`)."""
    check_precision(precision)
    on_cpu = torch.device(device).type == "cpu"
    if precision == "auto":
        return torch.bfloat16 if on_cpu and cpu_has_bf16_units() else torch.float32
    if precision == "bf16" and on_cpu and not cpu_has_bf16_units():
        warnings.warn("precision bf16: this CPU has no bf16 units (AMX or AVX512-BF16), so bf16 is emulated "
                      "and several times slower than fp32; --precision auto picks fp32 here",
                      SlowPrecisionWarning, stacklevel=3)
    return PRECISIONS[precision]


@contextmanager
def threads_per_worker(threads: int) -> Iterator[None]:
    """Set torch's thread count (one number for the whole process) for the workers' operators,
    then restore it."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Predictor:
    """Runs the model in length-sorted batches and returns results in input order.

    A sentence longer than ``max_length`` words (a whole file on one line, say) is tagged
    in consecutive pieces of ``max_length`` words, so memory and time stay linear in its
    length: each piece is parsed on its own and the root word of every later piece is
    attached to the first piece's root with the relation ``dep``.

    ``precision="bf16"`` runs the LSTMs and the label scorer in bfloat16 (on the CPU only):
    faster on CPUs with bf16 matrix units (AMX or AVX512-BF16), several times slower on others (it
    warns there), and the predictions differ slightly from the default ``"fp32"``.
    ``precision="auto"`` is bf16 where the CPU has the units and fp32 elsewhere. The choice
    sets the precision of ``model`` (:meth:`JointManyTask.set_precision`), so other
    predictors of it share it.
    """

    def __init__(self, model: JointManyTask, vocabs: Vocabularies, batch_size: int | None = None,
                 max_length: int = MAX_LENGTH, max_tokens: int | None = None, workers: int | None = None,
                 precision: str = "fp32", cache: bool = False):
        device = next(model.parameters()).device
        gpu = device.type != "cpu"
        # None: the device's default (larger on a GPU)
        self.batch_size = batch_size or (GPU_BATCH_SIZE if gpu else BATCH_SIZE)
        self.max_tokens = max_tokens or (GPU_MAX_BATCH_TOKENS if gpu else MAX_BATCH_TOKENS)  # sentences x longest
        self.model, self.vocabs, self.max_length = model, vocabs, max_length
        # A frozen pretrained encoder's states of the inputs come from (and go to) the disk
        # cache: for corpora scored again and again (dev sets in training, test sets).
        self.cache = cache
        self.workers = workers  # batches run at once on a CPU; None: torch's thread count, at most MAX_WORKERS
        dtype = precision_dtype(precision, device)
        if dtype != torch.float32 and device.type != "cpu":
            raise ValueError(f"precision {precision} is for CPUs; the model is on {device}")
        model.set_precision(dtype)

    def known_tasks(self, tasks: str | Iterable[str]) -> set[str]:
        """``tasks`` (one name or several) as a set; a task the model lacks is a ValueError."""
        wanted = {tasks} if isinstance(tasks, str) else set(tasks)
        unknown = wanted - set(self.model.tasks)
        if unknown:
            raise ValueError(f"the model has no task {sorted(unknown)[0]!r}; it has {', '.join(self.model.tasks)}")
        return wanted

    def token_tasks(self, tasks: str | Iterable[str] | None = None) -> list[str]:
        """The model's token tasks among ``tasks`` (default: all of them), in the model's order.
        A sentence-pair task asked for here is a ValueError: it scores pairs, not sentences."""
        chosen = [t for t in self.model.tasks if self.model.heads[t].kind == "token"]
        if tasks is not None:
            wanted = self.known_tasks(tasks)
            pairs = sorted(wanted - set(chosen))
            if pairs:
                raise ValueError(f"task {pairs[0]!r} scores sentence pairs (jmt pair, or pair() in Python); "
                                 f"the tasks that tag are {', '.join(chosen) or 'none'}")
            chosen = [t for t in chosen if t in wanted]
        return chosen

    @torch.inference_mode()
    def tag(self, sentences: Sequence[Sentence | list[str]], tasks: str | Iterable[str] | None = None) -> list[dict]:
        """Per sentence a dict with the predicted fields of ``tasks`` (default: all token tasks):
        ``upos``, ``xpos``, ``xpos2``, ``chunks``, ``heads`` (0 = root), ``deprels``, ``feats``,
        ``lemmas``: those of the tasks the model has."""
        chosen = self.token_tasks(tasks)
        if not chosen or not sentences:
            return [{} for _ in sentences]
        sents = [s if isinstance(s, Sentence) else Sentence(list(s)) for s in sentences]
        upto = max(self.model.heads[t].depth for t in chosen)
        self.model.eval()
        fields = [field for t in chosen for field in self.model.heads[t].fields]
        results: list[dict] = [{f: [] for f in fields} for _ in sents]  # the LSTMs cannot read empty sentences
        owners, pieces = [], []  # (sentence, first word) of each piece
        for i, s in enumerate(sents):
            for start in range(0, len(s.words), self.max_length):
                owners.append((i, start))
                words = s.words[start : start + self.max_length]
                pieces.append(EncodedSentence(self.vocabs.encode(words), {}, words))
        self._cached_states(pieces)
        # heads not asked for stay idle, but for those whose scores the asked ones decode with
        run = chosen + [t for c in chosen for t in getattr(self.model.heads[c], "reads", ()) if t in self.model.heads]
        forward = lambda batch, depth: self.model(batch, depth, run)  # noqa: E731
        predicted = self._run_by_depth(pieces, collate_sentences, forward, chosen, upto)
        for (i, start), pred in zip(owners, predicted):
            if start == 0:
                results[i] = pred
            else:
                for task in chosen:
                    self.model.heads[task].join(results[i], pred, start)
        return results

    def pair_tasks(self) -> list[str]:
        """The model's sentence-pair tasks; a ValueError if it has none."""
        chosen = [t for t in self.model.tasks if self.model.heads[t].kind == "pair"]
        if not chosen:
            raise ValueError("the model has no sentence-pair task (relatedness, entailment)")
        return chosen

    @torch.inference_mode()
    def pair(self, pairs: Sequence[Pair]) -> list[dict]:
        """Per pair ``relatedness`` (1-5) and, if the model has it, ``entailment`` and ``probabilities``."""
        chosen = self.pair_tasks()
        for n, p in enumerate(pairs):
            if not p.premise or not p.hypothesis:
                raise ValueError(f"pair {n + 1}{f' ({p.source})' if p.source else ''}: empty premise or hypothesis")
        encoded = [encode_pair(self.vocabs, Pair(p.premise, p.hypothesis)) for p in pairs]
        self._cached_states([s for p in encoded for s in (p.premise, p.hypothesis)])
        upto = max(self.model.heads[t].depth for t in chosen)
        self.model.eval()
        return self._run_by_depth(encoded, collate_pairs, self.model.forward_pairs, chosen, upto)

    def _cached_states(self, encoded: list[EncodedSentence]) -> None:
        """With ``cache``, give each sentence its frozen encoder's states from the disk cache."""
        model = self.model
        if self.cache and model.encoder is not None and not model.cfg.encoder_trainable and encoded:
            from .model.encoder import cached_states

            for sent, states in zip(encoded, cached_states(model.encoder, [s.forms for s in encoded])):
                sent.encoder = states

    def _run_by_depth(self, encoded: list, collate, forward, tasks: list[str], upto: int) -> list[dict]:
        """One run up to ``upto`` for all ``tasks``; with soft sharing one run per depth, since
        the tasks at each depth read their own copies of the layers below."""
        if not self.model.copies:
            return self._run(encoded, collate, lambda batch: forward(batch, upto), tasks)
        results: list[dict] = [{} for _ in encoded]
        for depth in sorted({self.model.heads[t].depth for t in tasks}):
            at_depth = [t for t in tasks if self.model.heads[t].depth == depth]
            for result, pred in zip(results, self._run(encoded, collate, lambda b, d=depth: forward(b, d), at_depth)):
                result.update(pred)
        return results

    def _run(self, encoded: list, collate, forward, tasks: list[str]) -> list[dict]:
        """Decode ``tasks`` over length-sorted batches; results come back in input order.

        With ``workers`` > 1 on a CPU (by default torch's thread count, at most
        ``MAX_WORKERS``), that many batches run at once, each in its own thread with its share
        of torch's threads (one each on a 2-core machine): one batch keeps one core busier than
        two cores sharing its small matrix products, and much of the decoding overlaps
        another batch's arithmetic (torch releases the GIL). The same predictions either way.
        """
        results: list[dict] = [{} for _ in encoded]
        device = next(self.model.parameters()).device

        @torch.inference_mode()  # per thread: a worker does not inherit the caller's mode
        def run(idx: list[int]) -> tuple[list[int], list[list[dict]]]:
            batch = collate([encoded[i] for i in idx]).to(device)
            out = forward(batch)
            return idx, [self.model.heads[task].decode(out.scores[task], batch, out.scores) for task in tasks]

        threads = torch.get_num_threads()
        workers = self.workers or min(threads, MAX_WORKERS)
        parallel = workers > 1 and device.type == "cpu"
        # Parallel workers share the token budget, so the batches in flight together take
        # about the memory of one (peak RSS stays near the one-worker figure).
        budget = max(1, self.max_tokens // workers) if parallel else self.max_tokens
        batches = batch_indices(encoded, self.batch_size, shuffle=False, max_tokens=budget)
        if parallel:
            with threads_per_worker(max(1, threads // workers)), ThreadPoolExecutor(workers) as pool:
                done = list(pool.map(run, batches))
        else:
            done = map(run, batches)
        for idx, decoded in done:
            for per_task in decoded:
                for i, pred in zip(idx, per_task):
                    results[i].update(pred)
        return results

    def evaluate(self, task: str, gold: Sequence[Sentence | Pair]) -> dict:
        """Score ``task`` on gold examples (predicting them first)."""
        return self.evaluate_tasks([task], gold)[task]

    def evaluate_tasks(self, tasks: Sequence[str], gold: Sequence[Sentence | Pair]) -> dict[str, dict]:
        """Score several tasks on one gold corpus, running the model over it once."""
        self.known_tasks(tasks)
        kinds = {self.model.heads[t].kind for t in tasks}
        if kinds == {"token"}:
            pred = self.tag(gold, tasks)
        elif kinds == {"pair"}:
            pred = self.pair(gold)
        else:
            raise ValueError(f"cannot score token and pair tasks on one corpus: {', '.join(tasks)}")
        return {t: self.model.heads[t].evaluate(list(gold), pred) for t in tasks}

