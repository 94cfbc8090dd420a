"""tinytorch.interop: models in and out of PyTorch and Hugging Face.

Layer 6 of the TinyTorch stack:

* :func:`to_torch_state_dict` / :func:`load_torch_state_dict`: a model's
  tensors under ``torch.nn``'s keys and shapes, both ways (every tinytorch
  layer already uses PyTorch's names and layouts);
* :func:`load_gpt2` / :func:`save_gpt2`: Hugging Face GPT-2 folders
  (``config.json`` + ``model.safetensors``) into a tinytorch ``GPT`` and
  back, readable by ``transformers.GPT2LMHeadModel.from_pretrained``;
* :func:`gpt2_state_dict` / :func:`load_gpt2_state_dict` and the config
  translation :func:`gpt_config_from_gpt2` / :func:`gpt2_config_from_gpt`.

Runtime dependencies: NumPy and ``safetensors`` (its NumPy API). PyTorch and
``transformers`` are never imported here.
"""

from .gpt2 import gpt2_state_dict, load_gpt2, load_gpt2_state_dict, save_gpt2
from .gpt2_config import ARCHITECTURES, gpt2_config_from_gpt, gpt_config_from_gpt2
from .torch_state import as_numpy, load_torch_state_dict, to_torch_state_dict

__version__ = "0.1.2"

__all__ = [
    "__version__",
    "ARCHITECTURES",
    "as_numpy",
    "gpt2_config_from_gpt",
    "gpt2_state_dict",
    "gpt_config_from_gpt2",
    "load_gpt2",
    "load_gpt2_state_dict",
    "load_torch_state_dict",
    "save_gpt2",
    "to_torch_state_dict",
]
