"""bam.bench: the training benchmark runs end to end and reports its ratios."""

import pytest

from bam import bench


def test_train_benchmark_reports_loader_and_step_ratios(capsys):
    args = ["train", "--images", "256", "--batch-size", "64", "--workers", "0", "--repeats", "1"]
    result = bench.main([*args, "--steps", "1"])
    out = capsys.readouterr().out
    assert "ratio ours / torchvision" in out and "ratio BAM / plain" in out
    assert result["loader_images_per_s"] > 0 and result["dataloader_images_per_s"] > 0
    assert result["loader_ratio"] == pytest.approx(
        result["loader_images_per_s"] / result["dataloader_images_per_s"]
    )
    assert 0.5 < result["step_ratio"] < 5
    # Emulated bfloat16 (CPUs without native support) can be many times slower: wider bounds.
    for key in ("step_ratio_bfloat16", "bfloat16_speedup", "bfloat16_speedup_bam"):
        assert 0.05 < result[key] < 20, key
    assert "speed-up of bfloat16+CL over float32" in out


def test_a_subcommand_is_required():
    with pytest.raises(SystemExit):
        bench.main([])
