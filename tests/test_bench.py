"""bam.bench: the training benchmark runs end to end and reports its ratios."""

import pytest

from bam.commands import bench


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
    assert "evaluation, batches of 128 against 500" in out and result["eval_batch_speedup"] > 0


def test_a_subcommand_is_required():
    with pytest.raises(SystemExit):
        bench.main([])


def test_attention_benchmark_compares_our_bam_the_plain_formula_and_the_released_code(capsys):
    rows = bench.main(
        ["attention", "--quick", "--batch-resnet20", "4", "--steps", "1", "--precisions", "float32"]
    )
    out = capsys.readouterr().out
    names = [row["attention"] for row in rows]
    assert names[:1] == ["none"] and {"BAM", "BAM, plain formula", "BAM, released code"} <= set(
        names
    )
    assert {row["mode"] for row in rows} == {"eager"} and "saved MB" in out
    by_name = {row["attention"]: row for row in rows}
    assert by_name["none"]["saved_per_bam"] is None and by_name["SE"]["saved_per_bam"] is None
    assert by_name["BAM"]["saved_per_bam"] < by_name["BAM, plain formula"]["saved_per_bam"]
    # The released code's two expand_as views multiply into a full tensor that is kept.
    assert (
        by_name["BAM, released code"]["saved_per_bam"]
        > by_name["BAM, plain formula"]["saved_per_bam"]
    )
