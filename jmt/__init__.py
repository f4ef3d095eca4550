"""jmt: the Joint Many-Task model (Hashimoto et al. 2017) as a library and a command line."""
__version__ = "0.1.0"


def load(path, batch_size: int | None = None, device: str = "cpu", precision: str = "fp32", tokenizer=None):
    """Load a trained model directory, or a model shipped with jmt by name:
    ``jmt.load("en").tag("Raw text. Two sentences.")``; ``device``
    is ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (a GPU when torch sees one); ``precision``
    is ``fp32`` or ``bf16`` (faster on CPUs with bf16 units, AMX or AVX512-BF16; slightly different predictions)."""
    from .api import load as _load

    return _load(path, batch_size, device, precision, tokenizer)


__all__ = ["load", "__version__"]
