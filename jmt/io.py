"""Model directories: ``config.json``, ``vocab.json``, ``model.safetensors``, ``metrics.json``.

Nothing is pickled. Files are written to temporary names and renamed, so a model
directory is never left half-written by a crash.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .config import Config, ConfigError, from_dict, to_dict
from .data.vocab import Vocabularies
from .decode import DECODERS
from .model import JointManyTask
from .tasks import TASKS

FORMAT_VERSION = 2  # 2: layers named (layers.pos.*); 1 numbered them by depth (layers.1.*), read through upgrade_v1
TABLES = ("embed.words.weight", "embed.ngrams.weight", "embed.pretrained")  # the embedding tables


def write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def save_model(directory: str | Path, model: JointManyTask, vocabs: Vocabularies, config: Config,
               metrics: dict | None = None) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(directory / "model.safetensors", model)
    write_json(directory / "vocab.json", vocabs.to_json())
    write_json(directory / "config.json", {"format_version": FORMAT_VERSION, "tasks": model.tasks, **to_dict(config)})
    if metrics is not None:
        write_json(directory / "metrics.json", metrics)


def load_model(directory: str | Path, device: str | torch.device | None = "cpu",
               table_dtype: torch.dtype = torch.float32,
               encoder: bool = True) -> tuple[JointManyTask, Vocabularies, Config]:
    """Load a model directory written by :func:`save_model` onto ``device`` (``cpu``,
    ``cuda``, ``cuda:N`` or ``auto``); the model is in eval mode.

    ``table_dtype=torch.float16`` keeps the embedding tables (words, character n-grams,
    pretrained vectors: four fifths of the weights) in half precision, for prediction: half
    their memory, and the rows a batch looks up are widened to float32, so everything after
    the lookup is unchanged (``results/speed.md`` measured the predictions). Training keeps
    float32. ``encoder=False`` leaves a pretrained encoder unloaded (``jmt info`` shows the
    model without it; such a model cannot predict).

    Anything wrong (a missing file, a newer format, damaged JSON or weights) is one
    ConfigError naming the file. Weights are read with safetensors only: no unpickling.
    """
    from .device import resolve_device

    device = resolve_device(device)
    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise ConfigError(f"{directory}: not a jmt model directory (no config.json)")
    for name in ("vocab.json", "model.safetensors"):
        if not (directory / name).is_file():
            raise ConfigError(f"{directory / name}: missing from the model directory")
    where = directory / "config.json"
    try:
        raw = json.loads(where.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a JSON object, not {type(raw).__name__}")
        version = raw.pop("format_version", None)
        if version is None:
            raise ConfigError(f"{where}: not a jmt model's config (it has no format_version); "
                              "is this another library's model folder?")
        if version not in (1, FORMAT_VERSION):
            newer = isinstance(version, int) and version > FORMAT_VERSION
            raise ConfigError(f"{where}: model format version {version!r}; this jmt reads version {FORMAT_VERSION}"
                              + (" (the model was written by a newer jmt: upgrade jmt)" if newer else ""))
        tasks = raw.pop("tasks")
        unknown = [t for t in tasks if t not in TASKS] if isinstance(tasks, list) else [tasks]
        if unknown:
            raise ConfigError(f"{where}: tasks {unknown} are not tasks this jmt knows "
                              "(a model written by a newer jmt, or a damaged file)")
        legacy = raw.get("model", {})
        calibration = (legacy.get("relatedness_scale", 1.0), legacy.get("relatedness_shift", 0.0))  # older models
        config = from_dict(Config, raw)
        if config.train.decoder not in DECODERS:
            raise ConfigError(f"{where}: train.decoder {config.train.decoder!r} is not one of {', '.join(DECODERS)}")
        where = directory / "vocab.json"
        vocabs = Vocabularies.from_json(json.loads(where.read_text(encoding="utf-8")))
        # Built on the meta device, the model allocates nothing until the saved tensors are
        # assigned to it: no memory for a random init that would be overwritten at once.
        with torch.device("meta"):
            model = JointManyTask(config.model, vocabs, tasks, decoder=config.train.decoder)
        if config.model.encoder and encoder:
            from .model.encoder import load_encoder

            m, where = config.model, directory
            model.attach_encoder(load_encoder(m.encoder, m.encoder_sha256, m.encoder_pooling, str(directory), device))
        where = directory / "model.safetensors"
        weights = upgrade_v1(read_weights(where, device, table_dtype))
        broken = [name for name, w in weights.items() if w.is_floating_point() and not torch.isfinite(w).all()]
        if broken:
            raise ConfigError(f"{where}: NaN or infinite values in {len(broken)} weight tensors, {broken[0]} first")
        moved = "heads.relatedness.calibration"
        if moved not in weights and "relatedness" in model.heads:  # written before the line moved to the weights
            weights[moved] = torch.tensor([float(v) for v in calibration], device=device)
        model.load_state_dict(weights, assign=True)
    except ConfigError as err:
        raise ConfigError(str(err) if str(err).startswith(str(where)) else f"{where}: {err}") from None
    except (OSError, KeyError, TypeError, ValueError, AttributeError, RuntimeError, SafetensorError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = " ".join(lines[:2]) if lines else type(err).__name__  # load_state_dict's detail is its 2nd line
        detail = detail if len(detail) <= 300 else detail[:300] + "..."
        raise ConfigError(f"{where}: not valid for a jmt model ({detail})") from None
    model.eval()
    return model, vocabs, config


def read_weights(path: Path, device: torch.device, table_dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, the embedding tables in ``table_dtype``.

    safetensors maps the file and its tensors read from the mapping, so only the pages used
    become resident. Tables to convert are read through a handle of their own: its mapping
    goes once they are converted, instead of staying resident beside the copies.
    """
    tables: dict[str, torch.Tensor] = {}
    if table_dtype != torch.float32:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            tables = {key: f.get_tensor(key).to(table_dtype) for key in set(TABLES) & set(f.keys())}
    with safe_open(str(path), framework="pt", device=str(device)) as f:
        # weights stored in float16 (a shipped model) compute in float32
        return {**{key: _widen(f.get_tensor(key)) for key in f.keys() if key not in tables}, **tables}


def upgrade_v1(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights of a format-1 model (or checkpoint) under format-2 names: its layers were
    numbered by depth (``layers.3.*``, soft-sharing copies ``copies.3_1.*``); they are named
    now (``layers.dep.*``, ``copies.dep_pos.*``). Format-2 names pass unchanged."""
    names = {1: "pos", 2: "chunk", 3: "dep", 4: "relatedness", 5: "entailment"}  # format 1's depths
    def rename(key: str) -> str:
        kind, _, rest = key.partition(".")
        head, dot, tail = rest.partition(".")
        if kind == "layers" and head.isdigit():
            return f"layers.{names[int(head)]}.{tail}"
        if kind == "copies" and "_" in head and head.replace("_", "").isdigit():
            upto, below = head.split("_")
            return f"copies.{names[int(upto)]}_{names[int(below)]}.{tail}"
        return key

    return {rename(key): value for key, value in state.items()}


def replace_tensors(path: str | Path, tensors: dict[str, torch.Tensor]) -> None:
    """Set some tensors of a safetensors file, keeping the others (and their dtypes) as they
    are; written to a temporary name and renamed."""
    path = Path(path)
    with safe_open(str(path), framework="pt") as f:
        state, metadata = {key: f.get_tensor(key) for key in f.keys()}, f.metadata()
    state.update({key: value.detach().cpu().contiguous() for key, value in tensors.items()})
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=metadata)
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def _widen(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.dtype in (torch.float16, torch.bfloat16):
        return tensor.float()
    # A tensor read from the file sits wherever the file put it; vectorised kernels may sum
    # in another order at an unaligned address, so a loaded model would predict in the last
    # digits unlike the model that was saved. A copy is aligned as torch allocates it.
    return tensor.clone() if tensor.device.type == "cpu" and tensor.data_ptr() % 64 else tensor


def save_weights(path: str | Path, model: torch.nn.Module, metadata: dict[str, str] | None = None) -> None:
    """The model's tensors alone (no vocabularies, no config) to ``path``, written atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp),
              metadata=metadata or {"format": "jmt", "version": str(FORMAT_VERSION)})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # safetensors writes 0600; a model is shared like any file
    os.replace(tmp, path)


def average_weights(paths: list[Path]) -> dict[str, torch.Tensor]:
    """The mean of the floating-point tensors of several safetensors files of one model
    (e.g. its last epochs), in float32; other tensors are the last file's. Files that do not
    hold the same tensors are one ConfigError naming the first that differs."""
    if not paths:
        raise ConfigError("no weights to average")
    total: dict[str, torch.Tensor] = {}
    for path in paths:
        try:
            state = read_weights(Path(path), torch.device("cpu"), torch.float32)
        except (OSError, SafetensorError) as err:
            raise ConfigError(f"{path}: not readable weights ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
        if total and (state.keys() != total.keys() or any(state[k].shape != total[k].shape for k in total)):
            raise ConfigError(f"{path}: not the same model's weights as {paths[0]}")
        for key, value in state.items():
            if value.is_floating_point():
                total[key] = total[key] + value.float() if key in total else value.float().clone()
            else:
                total[key] = value
    return {k: v / len(paths) if v.is_floating_point() else v for k, v in total.items()}


def load_metrics(directory: str | Path) -> dict:
    """The saved epoch's record (``metrics.json``), or an empty dict where there is none."""
    path = Path(directory) / "metrics.json"
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:  # ValueError: bad JSON or bad UTF-8
        raise ConfigError(f"{path}: not valid JSON ({str(err).splitlines()[0]})") from None
    problem = metrics_problem(record)
    if problem:
        raise ConfigError(f"{path}: not a jmt metrics record ({problem})")
    return record


def metrics_problem(record) -> str | None:
    """What is wrong with the shape of a ``metrics.json`` record, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    for key in ("dev", "base"):
        if key in record and not isinstance(record[key], dict):
            return f"{key} is not an object"
    scores = [record.get("dev", {}), record.get("base", {}).get("dev") or {}]
    if not all(isinstance(s, dict) and all(isinstance(v, dict) for v in s.values()) for s in scores):
        return "dev scores are not an object per task"
    fit = record.get("calibration")
    if fit is not None and not (isinstance(fit, dict)
                                and all(isinstance(fit.get(k), (int, float)) for k in ("pairs", "scale", "shift"))):
        return "calibration lacks numeric pairs, scale and shift"
    return None
