"""Unit tests for the DNDM modules: NGS, DSE, CCA and the glare-attention loss."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dnreid.modeling import (
    CCA,
    DSE,
    NGS,
    cross_domain_exchange,
    glare_attention_loss,
    glare_mask,
)


def _raw_with_blocks(h: int, w: int, blocks, color=(255.0, 255.0, 255.0), batch: int = 1):
    """Black RGB image(s) with solid blocks given as (top, left, height, width)."""
    raw = torch.zeros(batch, 3, h, w)
    for top, left, bh, bw in blocks:
        raw[:, :, top : top + bh, left : left + bw] = torch.tensor(color).view(1, 3, 1, 1)
    return raw


def _opening_reference(bright: np.ndarray) -> np.ndarray:
    """Brute-force 3x3 opening of a 2-D boolean map, outside of the image counts as dark."""
    h, w = bright.shape
    eroded = np.zeros_like(bright)
    for i in range(h):
        for j in range(w):
            eroded[i, j] = all(
                0 <= i + di < h and 0 <= j + dj < w and bright[i + di, j + dj]
                for di in (-1, 0, 1)
                for dj in (-1, 0, 1)
            )
    opened = np.zeros_like(bright)
    for i in range(h):
        for j in range(w):
            opened[i, j] = any(
                0 <= i + di < h and 0 <= j + dj < w and eroded[i + di, j + dj]
                for di in (-1, 0, 1)
                for dj in (-1, 0, 1)
            )
    return opened


# ----------------------------------------------------------------------------- glare_mask
def test_glare_mask_opening_removes_specks_keeps_3x3_and_larger():
    blocks = [(2, 2, 1, 1), (2, 10, 2, 2), (10, 2, 3, 3), (10, 10, 4, 6)]
    mask = glare_mask(_raw_with_blocks(20, 20, blocks))
    assert mask.shape == (1, 1, 20, 20) and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    expected = torch.zeros(20, 20)
    expected[10:13, 2:5] = 1  # exactly the 9 pixels of the 3x3 blob
    expected[10:14, 10:16] = 1
    assert torch.equal(mask[0, 0], expected)


def test_glare_mask_uses_rgb_luma():
    def luma(r, g, b):
        return 0.299 * r + 0.587 * g + 0.114 * b

    green = (0.0, 255.0, 0.0)
    assert luma(*green) < 220
    assert glare_mask(_raw_with_blocks(12, 12, [(3, 3, 5, 5)], green)).sum() == 0

    warm_white = (255.0, 255.0, 200.0)
    assert luma(*warm_white) > 220
    assert glare_mask(_raw_with_blocks(12, 12, [(3, 3, 5, 5)], warm_white)).sum() == 25

    # Bright only if the channels were (wrongly) read as BGR.
    blueish = (100.0, 230.0, 255.0)
    assert luma(*blueish) <= 220 < luma(*reversed(blueish))
    assert glare_mask(_raw_with_blocks(12, 12, [(3, 3, 5, 5)], blueish)).sum() == 0


def test_glare_mask_threshold_is_strict_and_configurable():
    raw = torch.full((1, 3, 8, 8), 220.0)  # Y == 220 exactly (up to rounding) everywhere
    assert glare_mask(raw, threshold=220.5).sum() == 0
    assert glare_mask(raw, threshold=200.0).sum() == 64


def test_glare_mask_outside_counts_as_dark():
    # A 2-pixel strip along the top edge would survive if the outside counted as bright.
    assert glare_mask(_raw_with_blocks(10, 10, [(0, 0, 2, 10)])).sum() == 0
    # A fully bright image: erosion clears the border, dilation restores it.
    assert glare_mask(torch.full((2, 3, 7, 9), 255.0)).sum() == 2 * 7 * 9


def test_glare_mask_matches_bruteforce_reference():
    gen = torch.Generator().manual_seed(0)
    bright = torch.rand(3, 1, 17, 23, generator=gen) < 0.75
    raw = torch.where(bright, 250.0, 100.0).expand(-1, 3, -1, -1).contiguous()
    mask = glare_mask(raw)
    for b in range(3):
        expected = _opening_reference(bright[b, 0].numpy())
        assert np.array_equal(mask[b, 0].numpy().astype(bool), expected)


def test_glare_mask_carries_no_gradient():
    raw = torch.full((1, 3, 6, 6), 255.0, requires_grad=True)
    assert not glare_mask(raw).requires_grad


# ----------------------------------------------------------------------------- NGS
def _downsampled_reference(mask: torch.Tensor) -> torch.Tensor:
    """Two 3x3/s2/p1 max-pools: output q sees input rows/cols 4q-3 .. 4q+3."""
    h, w = mask.shape
    out = torch.zeros((h + 3) // 4, (w + 3) // 4)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = mask[max(4 * i - 3, 0) : 4 * i + 4, max(4 * j - 3, 0) : 4 * j + 4].max()
    return out


def test_ngs_mask_only_for_night_images():
    torch.manual_seed(0)
    channels, gain = 4, 5.0
    ngs = NGS(channels=channels)
    with torch.no_grad():
        ngs.proj.weight.zero_()
        ngs.proj.weight[0, channels] = gain  # only the mask channel drives A
    raw = _raw_with_blocks(64, 64, [(20, 24, 10, 12)], batch=2)
    x = torch.randn(2, channels, 16, 16)
    out, att = ngs(x, raw, torch.tensor([0, 1]))
    assert att.shape == (2, 1, 16, 16)

    torch.testing.assert_close(att[0], torch.full_like(att[0], 0.5))  # day: no prior
    expected_mask = _downsampled_reference(glare_mask(raw[:1])[0, 0])
    assert expected_mask.sum() > 0
    expected_night = torch.where(expected_mask > 0, torch.sigmoid(torch.tensor(gain)), 0.5)
    torch.testing.assert_close(att[1, 0], expected_night)
    torch.testing.assert_close(out, x - 0.5 * att * x)


def test_ngs_output_formula_shapes_and_gradient():
    torch.manual_seed(1)
    ngs = NGS(channels=8)
    raw = torch.rand(4, 3, 70, 70) * 255  # odd pooled size (18) gets resized to the stem's 16
    x = torch.rand(4, 8, 16, 16, requires_grad=True)
    domains = torch.tensor([0, 1, 0, 1])
    out, att = ngs(x, raw, domains)
    assert out.shape == x.shape and att.shape == (4, 1, 16, 16)
    assert bool(((att >= 0.5) & (att < 1)).all())
    torch.testing.assert_close(out, x - 0.5 * att * x)
    (out.sum() + glare_attention_loss(att, domains)).backward()
    assert ngs.proj.weight.grad is not None and ngs.proj.weight.grad.abs().sum() > 0
    assert x.grad is not None


def test_ngs_nonnegative_init_keeps_attention_trainable():
    """Stem features are >= 0: PyTorch's symmetric init leaves the projection negative everywhere
    for some seeds (A = 0.5, zero gradient); the nonnegative init never does."""
    x = torch.rand(2, 64, 16, 16)  # post-ReLU stem output
    raw = torch.zeros(2, 3, 64, 64)
    domains = torch.tensor([0, 1])

    def dead_seeds(init: str) -> int:
        dead = 0
        for seed in range(20):
            torch.manual_seed(seed)
            _, att = NGS(channels=64, init=init)(x, raw, domains)
            dead += bool((att == 0.5).all())
        return dead

    assert dead_seeds("pytorch") > 0
    assert dead_seeds("nonnegative") == 0
    with pytest.raises(ValueError, match="NGS init"):
        NGS(init="zeros")


# ----------------------------------------------------------------------------- glare loss
@pytest.mark.parametrize("formulation", ["double_sigmoid", "single"])
def test_glare_attention_loss_direction(formulation):
    domains = torch.tensor([0, 0, 1, 1])
    base = torch.full((4, 1, 6, 6), 0.75)
    lower_day, higher_night = base.clone(), base.clone()
    lower_day[:2] = 0.55
    higher_night[2:] = 0.95
    l_base = glare_attention_loss(base, domains, formulation)
    assert glare_attention_loss(lower_day, domains, formulation) < l_base
    assert glare_attention_loss(higher_night, domains, formulation) < l_base


@pytest.mark.parametrize("formulation", ["double_sigmoid", "single"])
def test_glare_attention_loss_value_and_single_domain(formulation):
    torch.manual_seed(2)
    att = 0.5 + 0.5 * torch.rand(5, 1, 4, 4) * 0.99
    domains = torch.tensor([1, 0, 0, 1, 0])
    s = torch.sigmoid(att) if formulation == "double_sigmoid" else att
    day_term = -torch.log(1 - s[domains == 0]).mean()
    night_term = -torch.log(s[domains == 1]).mean()
    loss = glare_attention_loss(att, domains, formulation)
    torch.testing.assert_close(loss, 0.5 * (day_term + night_term))

    only_day = glare_attention_loss(att[domains == 0], domains[domains == 0], formulation)
    only_night = glare_attention_loss(att[domains == 1], domains[domains == 1], formulation)
    torch.testing.assert_close(only_day, day_term)
    torch.testing.assert_close(only_night, night_term)
    # A == 1 (possible after bf16 rounding) must stay finite.
    saturated = glare_attention_loss(torch.ones(2, 1, 3, 3), torch.tensor([0, 0]), formulation)
    assert torch.isfinite(saturated)


def test_glare_attention_loss_rejects_unknown_formulation():
    with pytest.raises(ValueError):
        glare_attention_loss(torch.rand(2, 1, 3, 3), torch.tensor([0, 1]), "triple")


# ----------------------------------------------------------------------------- DSE
def test_dse_closed_form_on_impulse():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    expected = torch.zeros(9, 9)
    expected[2:7, 2:7] = 0.25 * (1.0 / 24.0)  # 24 neighbours: filter = +1
    expected[4, 4] = 0.9  # centre: filter = -24 -> ReLU 0, only 0.9 * x remains
    torch.testing.assert_close(DSE()(x)[0, 0], expected)


def _dse_bruteforce(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    kernel = torch.ones(c, 1, 5, 5, dtype=x.dtype)
    kernel[:, :, 2, 2] = -24.0
    g = F.relu(F.conv2d(x, kernel, padding=2, groups=c)) / 24.0
    return 0.9 * x + 0.25 * g


@pytest.mark.parametrize("channels", [1, 3, 64])
def test_dse_matches_explicit_depthwise_conv(channels):
    torch.manual_seed(channels)
    x = torch.randn(2, channels, 11, 13, dtype=torch.float64)
    torch.testing.assert_close(DSE()(x), _dse_bruteforce(x))


def test_dse_has_no_parameters_and_keeps_format():
    dse = DSE()
    assert len(list(dse.parameters())) == 0 and len(list(dse.buffers())) == 0
    x = torch.randn(2, 16, 8, 8).to(memory_format=torch.channels_last)
    y = dse(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert dse(x.half()).dtype == torch.half
    custom = DSE(weight_x=1.0, weight_g=0.0)
    torch.testing.assert_close(custom(x), x)


# ----------------------------------------------------------------------------- CCA
def _naive_response(x, p, w):
    """Release-style R: materialise all class maps (B, num_ids, h, w)."""
    logits = torch.einsum("nd,dc,bchw->bnhw", w, p, x)
    cls = logits.mean(dim=(2, 3)).argmax(dim=1)
    cam = logits[torch.arange(x.shape[0]), cls]
    return torch.sigmoid(F.relu(cam)).unsqueeze(1)


def test_cca_cheap_response_equals_naive_values_and_gradients():
    torch.manual_seed(3)
    b, c, d, n = 4, 6, 8, 10
    cca = CCA(c, embed_dim=d).double()
    x = torch.randn(b, c, 5, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    x2, w2 = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    p2 = cca.proj.weight.detach().clone().requires_grad_()
    probe = torch.randn(b, 1, 5, 7, dtype=torch.float64)

    r = cca.response_map(x, w)
    r_naive = _naive_response(x2, p2, w2)
    assert r.shape == (b, 1, 5, 7)
    torch.testing.assert_close(r, r_naive, atol=1e-5, rtol=0)
    grads = torch.autograd.grad((r * probe).sum(), [x, cca.proj.weight, w])
    grads_naive = torch.autograd.grad((r_naive * probe).sum(), [x2, p2, w2])
    for g, g_naive in zip(grads, grads_naive):
        assert g.abs().sum() > 0
        torch.testing.assert_close(g, g_naive, atol=1e-5, rtol=0)


@pytest.mark.parametrize("channels, std", [(256, 0.036), (2048, 0.013)])
def test_cca_projection_init_release_and_pytorch(channels, std):
    torch.manual_seed(0)
    assert CCA(channels, embed_dim=2048).proj.weight.std().item() == pytest.approx(0.001, rel=0.01)
    assert CCA(channels, embed_dim=2048, init="pytorch").proj.weight.std().item() == pytest.approx(std, rel=0.03)
    with pytest.raises(ValueError, match="CCA init"):
        CCA(channels, init="zeros")


def test_cca_test_time_formula():
    torch.manual_seed(4)
    cca = CCA(6, embed_dim=8)
    x, w = torch.randn(3, 6, 4, 4), torch.randn(5, 8)
    out, r = cca(x, w)
    assert r.shape == (3, 1, 4, 4) and bool(((r >= 0.5) & (r < 1)).all())
    torch.testing.assert_close(r, _naive_response(x, cca.proj.weight, w))
    torch.testing.assert_close(out, x + 0.1 * r * x)


def test_cross_domain_exchange_uses_other_domains_identity_means():
    torch.manual_seed(5)
    p_ids, k, scale = 2, 2, 0.05
    batch = 2 * p_ids * k
    x = torch.randn(batch, 3, 2, 2)
    # Distinct per image and per position so every identity/domain mean differs.
    r = 0.5 + 0.05 * torch.arange(batch, dtype=torch.float32).view(batch, 1, 1, 1)
    r = r + 0.01 * torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    out = cross_domain_exchange(x, r, k, scale)

    half = batch // 2
    for i in range(batch):
        ident = (i % half) // k
        other_start = (half if i < half else 0) + ident * k
        r_bar_other = r[other_start : other_start + k].mean(0)
        expected = x[i] + scale * x[i] * r_bar_other + scale * r[i] * x[i]
        torch.testing.assert_close(out[i], expected)


def test_cca_paired_forward_and_layout_validation():
    torch.manual_seed(6)
    cca = CCA(6, embed_dim=8)
    x, w = torch.randn(8, 6, 3, 3), torch.randn(5, 8)
    out, r = cca(x, w, num_instances=2, paired=True)
    torch.testing.assert_close(out, cross_domain_exchange(x, r, 2, 0.05))
    with pytest.raises(ValueError, match="divisible"):
        cca(torch.randn(6, 6, 3, 3), w, num_instances=2, paired=True)
    with pytest.raises(ValueError, match="num_instances"):
        cca(x, w, paired=True)
    with pytest.raises(ValueError):
        cross_domain_exchange(x, r, 0)


# ----------------------------------------------------------------------------- autocast
def test_modules_under_bf16_autocast_and_channels_last():
    torch.manual_seed(7)
    cl = torch.channels_last
    ngs, dse, cca = NGS(channels=8), DSE(), CCA(8, embed_dim=16)
    w = torch.randn(6, 16, requires_grad=True)
    raw = (torch.rand(4, 3, 32, 32) * 255).to(memory_format=cl)
    x = torch.randn(4, 8, 8, 8).to(memory_format=cl).requires_grad_()
    domains = torch.tensor([0, 0, 1, 1])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, att = ngs(x, raw, domains)
        y = dse(y)
        y_train, r = cca(y, w, num_instances=1, paired=True)
        y_test, _ = cca(y, w)
        loss = glare_attention_loss(att, domains) + y_train.float().mean() + y_test.float().mean()
    for t in (y, att, y_train, r, y_test, loss):
        assert torch.isfinite(t.float()).all()
    assert y_train.shape == x.shape and r.shape == (4, 1, 8, 8)
    assert loss.dtype == torch.float32 and not math.isnan(loss.item())
    loss.backward()
    assert x.grad is not None and ngs.proj.weight.grad is not None
    assert cca.proj.weight.grad is not None and w.grad is not None
