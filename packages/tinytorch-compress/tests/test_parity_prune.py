"""The masks equal torch.nn.utils.prune's on the same (distinct) weights."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.nn.utils import prune as torch_prune  # noqa: E402

from tinytorch import nn  # noqa: E402
from tinytorch.compress import magnitude_prune  # noqa: E402
from tinytorch.tensor import Tensor  # noqa: E402


def twin_models(seed=0):
    """A tinytorch MLP + CNN head and its torch twin holding the same, distinct values."""
    rng = np.random.default_rng(seed)
    ours = nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(5 * 4 * 4, 17), nn.ReLU(), nn.Linear(17, 7))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(80, 17), torch.nn.ReLU(),
                                 torch.nn.Linear(17, 7))
    total = sum(p.data.size for p in ours.parameters())
    # distinct magnitudes (a permutation of 1..total), random signs: no ties to break
    magnitudes = (rng.permutation(total) + 1).astype(np.float32) / total
    values = np.where(rng.random(total) < 0.5, -magnitudes, magnitudes)
    state, start = {}, 0
    for name, arr in ours.state_dict().items():
        chunk = values[start:start + arr.size].reshape(arr.shape)
        start += arr.size
        state[name] = chunk
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return ours, theirs


@pytest.mark.parametrize("amount", [0.1, 0.37, 0.5, 0.9])
def test_layer_masks_equal_l1_unstructured(amount):
    ours, theirs = twin_models()
    pruned = magnitude_prune(ours, amount, scope="layer")
    for i in (0, 3, 5):
        torch_prune.l1_unstructured(theirs[i], "weight", amount=amount)
        np.testing.assert_array_equal(pruned[i].mask(), theirs[i].weight_mask.numpy() != 0)
    x = np.random.default_rng(1).standard_normal((4, 3, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(pruned(Tensor(x)).data,
                               theirs(torch.from_numpy(x)).detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("amount", [0.2, 0.5, 0.85])
def test_global_masks_equal_global_unstructured(amount):
    ours, theirs = twin_models(seed=3)
    pruned = magnitude_prune(ours, amount, scope="global")
    torch_prune.global_unstructured([(theirs[i], "weight") for i in (0, 3, 5)],
                                     pruning_method=torch_prune.L1Unstructured, amount=amount)
    for i in (0, 3, 5):
        np.testing.assert_array_equal(pruned[i].mask(), theirs[i].weight_mask.numpy() != 0)


def test_iterative_pruning_keeps_the_old_zeros_like_torch():
    # torch's second call prunes a fraction of the *remaining* weights; ours
    # takes the total, so 0.5 then 0.5 of the rest equals a total of 0.75.
    ours, theirs = twin_models(seed=5)
    once = magnitude_prune(ours, 0.5, parameters=["3.weight"])
    twice = magnitude_prune(once, 0.75, parameters=["3.weight"])
    torch_prune.l1_unstructured(theirs[3], "weight", amount=0.5)
    torch_prune.l1_unstructured(theirs[3], "weight", amount=0.5)
    np.testing.assert_array_equal(twice[3].mask(), theirs[3].weight_mask.numpy() != 0)
