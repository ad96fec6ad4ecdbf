"""Localisation measures give the values their definitions promise on maps we can reason about."""

import pytest
import torch

from bam import localisation as loc
from bam.commands import localisation as localisation_command
from bam.models import create


def square_mask(n=1, size=32, top=8, left=10, side=8):
    masks = torch.zeros(n, size, size, dtype=torch.bool)
    masks[:, top : top + side, left : left + side] = True
    return masks


def test_a_map_equal_to_the_mask_has_all_its_energy_on_the_object():
    masks = square_mask()
    share = loc.energy_share(loc.to_energy(masks.float()), masks)
    assert share.tolist() == [1.0]


def test_a_uniform_map_gets_exactly_the_area_fraction():
    masks = square_mask()
    area = 64 / 1024
    assert loc.energy_share(torch.full((1, 32, 32), 0.7), masks).item() == pytest.approx(area)
    # A constant map becomes all zeros after to_energy: it still prefers no place.
    assert loc.energy_share(loc.to_energy(torch.full((1, 32, 32), 0.7)), masks).item() == area
    row = loc.measure("uniform", "-", torch.full((1, 16, 16), 0.3), masks)
    assert row.energy == pytest.approx(area) and row.lift == pytest.approx(1.0)


def test_the_lift_of_a_perfect_map_is_one_over_the_area():
    masks = square_mask()
    row = loc.measure("perfect", "-", masks.float(), masks)
    assert (row.energy, row.argmax_in) == (1.0, 1.0)
    # The minimum is the whole background; the ring of 36 pixels within 1 px of the object counts.
    assert row.argmin_in == pytest.approx(36 / 960)
    assert row.lift == pytest.approx(1024 / 64)


def test_energy_needs_non_negative_maps_and_matching_masks():
    with pytest.raises(ValueError, match="non-negative"):
        loc.energy_share(torch.full((1, 4, 4), -1.0), square_mask(size=4, top=1, left=1, side=2))
    with pytest.raises(ValueError, match="same shape"):
        loc.energy_share(torch.ones(1, 16, 16), square_mask())
    with pytest.raises(ValueError, match="at least one object pixel"):
        loc.energy_share(torch.ones(1, 4, 4), torch.zeros(1, 4, 4))


def test_pointing_game_hits_a_known_peak_and_respects_the_tolerance():
    masks = square_mask(top=8, left=10, side=8)  # rows 8-15, columns 10-17
    maps = torch.zeros(3, 32, 32)
    maps[0, 12, 12] = 1  # inside
    maps[1, 12, 18] = 1  # one pixel right of the object
    maps[2, 30, 2] = 1  # far away
    masks = masks.expand(3, -1, -1)
    assert loc.pointing(maps, masks, tolerance=0).tolist() == [1.0, 0.0, 0.0]
    assert loc.pointing(maps, masks, tolerance=1).tolist() == [1.0, 1.0, 0.0]
    assert loc.pointing(-maps, masks, tolerance=1, lowest=True).tolist() == [1.0, 1.0, 0.0]


def test_tied_extremes_share_the_vote():
    masks = square_mask(top=0, left=0, side=2, size=4)  # 4 of 16 pixels
    assert loc.pointing(torch.ones(1, 4, 4), masks, tolerance=0).item() == 0.25
    two_peaks = torch.zeros(1, 4, 4)
    two_peaks[0, 0, 0] = two_peaks[0, 3, 3] = 1
    assert loc.pointing(two_peaks, masks, tolerance=0).item() == 0.5


def test_the_peak_cell_of_a_coarse_map_stands_for_the_pixels_it_covers():
    masks = square_mask(top=8, left=10, side=8)  # rows 8-15, columns 10-17
    coarse = torch.zeros(1, 16, 16)
    coarse[0, 4, 8] = 1  # covers rows 8-9, columns 16-17: inside
    assert loc.pointing(coarse, masks, tolerance=0).item() == 1.0
    coarse[0, 4, 8], coarse[0, 4, 4] = 0, 1  # columns 8-9: within 2 px but not 1 px
    assert loc.pointing(coarse, masks, tolerance=1).item() == 0.5
    assert loc.pointing(coarse, masks, tolerance=2).item() == 1.0
    # A map that prefers no place is at chance: the share of pixels within the tolerance.
    assert loc.pointing(torch.ones(1, 16, 16), masks).item() == pytest.approx(100 / 1024)


def test_dilation_grows_a_mask_by_the_tolerance():
    mask = torch.zeros(1, 7, 7, dtype=torch.bool)
    mask[0, 3, 3] = True
    assert loc.dilate(mask, 1).sum() == 9 and loc.dilate(mask, 2).sum() == 25
    with pytest.raises(ValueError, match="tolerance"):
        loc.dilate(mask, -1)


def test_border_measures_at_the_maps_own_resolution():
    assert loc.border_frame(32, 32, 2).float().mean().item() == pytest.approx(1 - 28**2 / 32**2)
    maps = torch.zeros(2, 16, 16)
    maps[0, 0, 7] = 1  # top edge
    maps[1, 8, 8] = 1  # centre
    assert loc.on_border(maps, 2).tolist() == [1.0, 0.0]
    assert loc.on_border(-maps, 2, lowest=True).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="border"):
        loc.border_frame(4, 4, 2)


def test_the_centre_prior_peaks_at_the_centre_and_bottoms_out_in_the_corners():
    prior = loc.centre_prior(1, 16, 16)
    assert loc.extremes(prior)[0, 7:9, 7:9].sum() == 1  # four tied centre pixels
    assert loc.on_border(prior, 2, lowest=True).item() == 1.0
    assert torch.equal(loc.random_maps(2, 4, 4, seed=3), loc.random_maps(2, 4, 4, seed=3))


def test_compare_measures_every_stage_grad_cam_and_the_baselines():
    torch.manual_seed(0)
    model = create("bam_resnet20")
    images = torch.randn(4, 3, 32, 32)
    masks = square_mask(4)
    rows = loc.compare({"untrained": model}, images, masks)
    assert [(r.source, r.stage) for r in rows] == [
        ("untrained", "stage 1 (32x32)"),
        ("untrained", "stage 2 (16x16)"),
        ("untrained", "Grad-CAM (8x8)"),
        ("random", "stage 1 (32x32)"),
        ("centre", "stage 1 (32x32)"),
        ("random", "stage 2 (16x16)"),
        ("centre", "stage 2 (16x16)"),
    ]
    for r in rows:
        for value in (r.energy, r.argmax_in, r.argmin_in, r.argmax_border, r.argmin_border):
            assert 0 <= value <= 1, r
    table = loc.format_table(rows, masks)
    assert "Grad-CAM (8x8)" in table and "object area 0.062" in table


def test_compare_s_single_pass_measures_what_separate_passes_do():
    from bam.gradcam import grad_cam
    from bam.maps import collect

    torch.manual_seed(0)
    model = create("bam_resnet20")
    images, masks = torch.randn(300, 3, 32, 32), square_mask(300)  # two batches of compare
    rows = loc.compare({"untrained": model}, images, masks)[:3]
    _, maps = collect(model, images)
    expected = [
        loc.measure("untrained", loc.stage_label(name, maps), loc.spatial_map(m), masks)
        for name, m in maps.items()
    ]
    expected.append(loc.measure("untrained", "Grad-CAM (8x8)", grad_cam(model, images)[0], masks))
    assert rows == expected


def test_the_command_line_measures_a_checkpoint_against_its_untrained_self(tmp_path, capsys):
    torch.manual_seed(1)
    torch.save({"model": create("bam_resnet20").state_dict()}, tmp_path / "run.pt")
    rows = localisation_command.main(["--checkpoint", str(tmp_path / "run.pt"), "--images", "20"])
    assert {r.source for r in rows} == {"trained", "untrained", "random", "centre"}
    out = capsys.readouterr().out
    assert "on 20 Shapes test images" in out and "Grad-CAM (8x8)" in out
    with pytest.raises(SystemExit):
        localisation_command.main(["--checkpoint", str(tmp_path / "missing")])


@pytest.mark.parametrize(
    "args",
    [
        ["--pretrained", "shapes-bam_resnet20-identity-s0"],  # the manifest says how it started
        ["--checkpoint", "RUN", "--init", "identity"],
    ],
)
def test_the_untrained_reference_starts_as_the_trained_network_did(args, tmp_path):
    # Started as the identity, every map of the untrained network is one constant: it prefers
    # no place, so its energy lift is exactly 1 (a default start is not constant).
    torch.save({"model": create("bam_resnet20").state_dict()}, tmp_path / "run.pt")
    args = [str(tmp_path / "run.pt") if a == "RUN" else a for a in args]
    rows = localisation_command.main([*args, "--images", "20"])
    untrained = [r for r in rows if r.source == "untrained" and r.stage.startswith("stage")]
    assert len(untrained) == 2 and all(r.lift == pytest.approx(1.0) for r in untrained)
