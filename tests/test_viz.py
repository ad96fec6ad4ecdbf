"""Seeing attention: maps read without side effects, drawn, explored, compared to Grad-CAM."""

import pytest
import torch
from matplotlib.figure import Figure

import bam.viz as viz
from bam import add_bam
from bam.models import create


def hooks_on(model):
    return {
        name: len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for name, m in model.named_modules()
    }


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    model = create("bam_resnet20")
    images = torch.randn(6, 3, 32, 32)
    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    preds, maps = viz.collect(model, images)
    return model, images, labels, preds, maps


def test_collect_records_every_stage_with_its_shape():
    torch.manual_seed(0)
    model = create("bam_resnet20")
    preds, maps = viz.collect(model, torch.randn(5, 3, 32, 32), batch_size=2)
    assert preds.shape == (5,)
    shapes = {n: (m.channel.shape, m.spatial.shape, m.attention.shape) for n, m in maps.items()}
    assert shapes == {
        "layer1.bam": ((5, 16, 1, 1), (5, 1, 32, 32), (5, 16, 32, 32)),
        "layer2.bam": ((5, 32, 1, 1), (5, 1, 16, 16), (5, 32, 16, 16)),
    }


def test_a_torchvision_resnet_has_three_stages_of_maps():
    import torchvision

    model = add_bam(torchvision.models.resnet18(num_classes=10))
    _, maps = viz.collect(model, torch.randn(2, 3, 64, 64))
    assert [tuple(m.spatial.shape[-2:]) for m in maps.values()] == [(16, 16), (8, 8), (4, 4)]
    assert [viz.stage_label(n, maps) for n in maps] == [
        "stage 1 (16x16)",
        "stage 2 (8x8)",
        "stage 3 (4x4)",
    ]


def test_reading_the_maps_leaves_the_model_unchanged():
    torch.manual_seed(0)
    model = create("bam_resnet20").train()
    x = torch.randn(4, 3, 32, 32)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = model.eval()(x)
    model.train()
    preds, _ = viz.collect(model, x)
    viz.grad_cam(model, x)
    assert model.training, "the model's training mode must be restored"
    assert all(n == 0 for n in hooks_on(model).values()), "hooks were left on the model"
    assert all(p.grad is None for p in model.parameters()), "Grad-CAM must not touch .grad"
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, state[k], msg=f"{k} changed")
    torch.testing.assert_close(model.eval()(x), before)
    assert torch.equal(preds, before.argmax(1))


def test_the_three_spatial_kinds_share_their_peak_with_the_papers_sum(batch):
    *_, maps = batch
    m = maps["layer2.bam"]
    logits = viz.spatial_map(m, "spatial")
    torch.testing.assert_close(viz.spatial_map(m, "spatial_gate"), torch.sigmoid(logits))
    torch.testing.assert_close(viz.spatial_map(m, "attention"), m.attention.mean(1))
    # sigmoid(Mc + Ms) rises with Ms in every channel, so the channel mean peaks where Ms does.
    attention = viz.spatial_map(m, "attention")
    assert torch.equal(attention.flatten(1).argmax(1), logits.flatten(1).argmax(1))
    assert viz.channel_weights(m).shape == (6, 32)
    with pytest.raises(ValueError, match="unknown map kind"):
        viz.spatial_map(m, "channel")


def test_upsampling_is_bilinear_to_the_image_size():
    small = torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])
    big = viz.upsample(small, (4, 4))
    assert big.shape == (1, 4, 4)
    # Half-pixel centres: the columns sit at 1/4 and 3/4 of the way between the two values.
    torch.testing.assert_close(big[0, 0], torch.tensor([0.0, 0.25, 0.75, 1.0]))
    with pytest.raises(ValueError, match=r"\(B, h, w\)"):
        viz.upsample(torch.zeros(2, 2), (4, 4))


def test_one_bright_pixel_does_not_wash_out_the_colour_scale():
    maps = torch.linspace(0, 1, 1000).view(10, 10, 10)
    maps[0, 0, 0] = 100.0
    low, high = viz.colour_range(maps)
    assert low == pytest.approx(0.01, abs=0.002) and high == pytest.approx(0.99, abs=0.002)
    assert viz.colour_range(torch.ones(3, 4, 4)) == (1.0, 1.0)


def test_images_are_shown_in_the_unit_range():
    pixels = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    assert viz.to_rgb(pixels).tolist() == [[[[0.0] * 3, [1.0] * 3]]]
    normalised = torch.full((1, 3, 2, 2), -1.0)
    torch.testing.assert_close(
        torch.from_numpy(viz.to_rgb(normalised, mean=(0.5,) * 3, std=(0.25,) * 3)),
        torch.full((1, 2, 2, 3), 0.25),
    )


def test_plots_return_figures_with_a_panel_per_image_and_stage(batch):
    _, images, labels, preds, maps = batch
    masks = torch.zeros(6, 32, 32, dtype=torch.bool)
    masks[:, 8:20, 8:20] = True
    fig = viz.plot_attention(images, maps, labels, preds, masks=masks, max_images=3)
    assert isinstance(fig, Figure)
    assert fig._repr_png_().startswith(b"\x89PNG"), "notebooks show figures as PNG, no pyplot"
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 * 3  # image + two stages, three rows
    assert panels[0].get_title() == viz.label_title(0, int(preds[0]))
    assert "stage 2 (16x16)" in panels[2].get_title()
    assert len(viz.plot_channel_attention(maps, labels).axes) == 4  # two strips, two bars
    hierarchy = viz.plot_hierarchy(images[1], maps, 1, mask=masks[1])
    assert "stage 1 (32x32)" in hierarchy.axes[1].get_title()


def test_titles_name_the_true_and_predicted_class():
    names = ["disc", "square"]
    assert viz.label_title(0, 1, names) == "true disc, predicted square ✗"
    assert viz.label_title(1, 1, names) == "true square, predicted square ✓"
    assert viz.label_title(None, 0) == "predicted 0"


def test_explorer_state_describes_the_chosen_map(batch):
    _, images, labels, preds, maps = batch
    state = viz.explorer_state(maps, images, labels, preds, 4, "layer2.bam", "spatial_gate")
    gate = torch.sigmoid(maps["layer2.bam"].spatial[:, 0])
    assert state["title"].startswith(f"image 4: true 4, predicted {int(preds[4])}")
    assert state["subtitle"].startswith("stage 2 (16x16)")
    assert state["array"].shape == (32, 32)
    torch.testing.assert_close(
        torch.from_numpy(state["array"]), viz.upsample(gate[4:5], (32, 32))[0]
    )
    assert (state["vmin"], state["vmax"]) == viz.colour_range(gate)
    assert gate.min() <= state["vmin"] < state["vmax"] <= gate.max()
    assert state["overlay"] and state["correct"] == (int(preds[4]) == 4)
    assert state["image"].shape == (32, 32, 3)


def test_explorer_state_shows_the_channel_gate_as_a_strip(batch):
    _, images, labels, preds, maps = batch
    state = viz.explorer_state(maps, images, labels, preds, 0, "layer1.bam", "channel")
    weights = torch.sigmoid(maps["layer1.bam"].channel.flatten(1))
    torch.testing.assert_close(torch.from_numpy(state["array"]), weights[:1])
    assert not state["overlay"]
    assert isinstance(viz.draw_state(state), Figure)


def test_explorer_state_rejects_a_bad_choice(batch):
    _, images, labels, preds, maps = batch
    with pytest.raises(ValueError, match=r"index must be in \[0, 5\]"):
        viz.explorer_state(maps, images, labels, preds, 6, "layer1.bam", "spatial")
    with pytest.raises(ValueError, match="unknown stage"):
        viz.explorer_state(maps, images, labels, preds, 0, "layer3.bam", "spatial")
    with pytest.raises(ValueError, match="unknown map kind"):
        viz.explorer_state(maps, images, labels, preds, 0, "layer1.bam", "logits")


def test_the_explorer_is_built_from_core_widgets(batch):
    import ipywidgets as widgets

    _, images, labels, preds, maps = batch
    box = viz.explorer(maps, images, labels, preds)
    kinds = [type(w) for w in box.children]
    assert kinds == [widgets.IntSlider, widgets.ToggleButtons, widgets.Dropdown, widgets.Output]
    slider, stages, menu, _ = box.children
    assert (slider.min, slider.max) == (0, 5)
    assert stages.options[1] == ("stage 2 (16x16)", "layer2.bam")
    slider.value, stages.value, menu.value = 5, "layer2.bam", "channel"  # redraws without error


def test_grad_cam_is_the_class_activation_map_for_a_pooled_linear_head():
    # With logits = W mean(A), dy_c/dA_k = W_ck / (h w): Grad-CAM reduces to ReLU(sum_k W_ck A_k)
    # / (h w), the class activation map of Zhou et al. (CVPR 2016).
    torch.manual_seed(0)
    model = create("bam_resnet20").eval()
    x = torch.randn(3, 3, 32, 32)
    cams, preds = viz.grad_cam(model, x, target=2)
    assert cams.shape == (3, 8, 8) and (cams >= 0).all()
    features = []
    handle = model.layer3.register_forward_hook(lambda _m, _i, out: features.append(out))
    with torch.no_grad():
        logits = model(x)
    handle.remove()
    expected = torch.relu(torch.einsum("k,bkhw->bhw", model.fc.weight[2], features[0])) / 64
    torch.testing.assert_close(cams, expected)
    assert torch.equal(preds, logits.argmax(1))


def test_grad_cam_rejects_a_class_the_model_does_not_have():
    model = create("bam_resnet20")
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        viz.grad_cam(model, torch.randn(2, 3, 32, 32), target=10)
    assert all(n == 0 for n in hooks_on(model).values())


def colour_bars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_every_colour_bar_says_what_it_measures(batch):
    _, images, labels, preds, maps = batch
    figures = {
        "overlays": viz.plot_attention(images, maps, labels, preds, kind="spatial"),
        "channel strips": viz.plot_channel_attention(maps, labels),
        "hierarchy": viz.plot_hierarchy(images[0], maps, 0),
        "explorer": viz.draw_state(
            viz.explorer_state(maps, images, labels, preds, 0, "layer1.bam", "attention")
        ),
    }
    for name, fig in figures.items():
        bars = colour_bars(fig)
        assert bars, f"{name}: no colour bar"
        for bar in bars:
            assert bar.get_xlabel() or bar.get_ylabel(), f"{name}: a colour bar without a label"
    overlay_labels = {bar.get_xlabel() for bar in colour_bars(figures["overlays"])}
    assert overlay_labels == {viz.KINDS["spatial"]}


def test_the_explorer_says_upsampled_only_when_a_map_was_upsampled(batch):
    _, images, labels, preds, maps = batch
    first = viz.explorer_state(maps, images, labels, preds, 0, "layer1.bam", "attention")
    second = viz.explorer_state(maps, images, labels, preds, 0, "layer2.bam", "attention")
    assert "upsampled" not in first["subtitle"]  # stage 1 is 32x32 on a 32x32 image
    assert second["subtitle"].endswith("upsampled to 32x32")


def test_titles_are_readable_at_the_notebook_width(batch):
    _, images, labels, preds, maps = batch
    fig = viz.plot_attention(images, maps, labels, preds)
    sizes = [ax.title.get_fontsize() for ax in fig.axes if ax.get_title()]
    assert sizes and min(sizes) >= 10


def test_explorer_grid_shows_every_stage_and_kind_as_the_explorer_does(batch):
    _, images, labels, preds, maps = batch
    fig = viz.explorer_grid(maps, images, labels, preds, indices=(4, 1))
    assert [block.get_suptitle() for block in fig.subfigs] == ["stage 1 (32x32)", "stage 2 (16x16)"]
    panels = [ax for ax in fig.subfigs[1].axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2 * (1 + len(viz.KINDS))  # two images: the image, then each kind
    state = viz.explorer_state(maps, images, labels, preds, 1, "layer2.bam", "spatial_gate")
    row, col = 1, 1 + list(viz.KINDS).index("spatial_gate")
    drawn = panels[row * (1 + len(viz.KINDS)) + col].images[-1]
    assert (drawn.norm.vmin, drawn.norm.vmax) == (state["vmin"], state["vmax"])
    assert (drawn.get_array() == state["array"]).all()
    assert " ".join(panels[row * (1 + len(viz.KINDS))].get_title().split()) == state["title"]
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_explorer_grid_rejects_an_unknown_kind(batch):
    _, images, labels, preds, maps = batch
    with pytest.raises(ValueError, match="unknown map kind"):
        viz.explorer_grid(maps, images, labels, preds, kinds=("logits",))


def test_on_a_static_page_the_explorer_is_a_figure_and_a_note(batch, monkeypatch):
    import IPython.display

    _, images, labels, preds, maps = batch
    displayed = []
    monkeypatch.setattr(IPython.display, "display", displayed.append)
    monkeypatch.setenv("BAM_STATIC", "1")
    shown = viz.explorer(maps, images, labels, preds)
    assert isinstance(shown, Figure), "a static page cannot run widgets"
    assert shown.subfigs[0].get_suptitle() == "stage 1 (32x32)"
    assert "Jupyter or Colab" in displayed[0].data


def test_the_explorer_grid_s_text_is_readable_at_a_page_s_column_width(batch):
    _, images, labels, preds, maps = batch
    fig = viz.explorer_grid(maps, images, labels, preds)
    texts = [t for ax in fig.get_axes() for t in (ax.title, *ax.get_xticklabels()) if t.get_text()]
    assert texts and min(t.get_fontsize() for t in texts) >= 8
    assert fig.get_size_inches()[0] <= 9  # else a page scales it down below that
