"""HookRegistry and HookHandle: the one hook machinery of the stack."""

import pytest

from tinytorch.tensor import HookHandle, HookRegistry


def test_registry_keeps_order_and_removes_one_occurrence():
    reg = HookRegistry("register_thing")

    def a():
        return None

    def b():
        return None

    h1 = reg.register(a, pre=b)
    h2 = reg.register(a)
    assert reg.post == (a, a) and reg.pre == (b,)
    assert isinstance(h1, HookHandle) and (h1.pre, h1.post) == (b, a)
    h1.remove()
    assert reg.post == (a,) and reg.pre == ()
    h1.remove()  # idempotent: does not take h2's registration
    assert reg.post == (a,)
    with h2:
        assert h2.active
    assert not h2.active and reg.post == ()


@pytest.mark.parametrize("post, pre, exc, match", [
    (None, None, ValueError, "register_thing needs"),
    (1, None, TypeError, "post hook must be callable"),
    (None, "x", TypeError, "pre hook must be callable"),
])
def test_registry_rejects_bad_hooks(post, pre, exc, match):
    reg = HookRegistry("register_thing")
    with pytest.raises(exc, match=match):
        reg.register(post, pre)
    assert reg.pre == () and reg.post == ()
