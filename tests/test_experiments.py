"""The experiment grid: one line per finished run, resumable, summarised as mean +- std."""

import json
import math
import re

import pytest
import torch

import bam.pretrained
from bam.commands.experiments import main
from bam.experiments import (
    IDENTITY,
    Summary,
    append_result,
    difference,
    format_table,
    lesson_grid,
    pooled_std,
    read_results,
    run_grid,
    run_key,
    run_lesson_grid,
    summarize,
    train_config,
)
from bam.models import create
from bam.profile import count_params

CONFIGS = {
    "plain": {"model": "resnet20", "epochs": 2},
    "bam": {"model": "bam_resnet20", "epochs": 2},
    "bam r=4": {"model": "bam_resnet20", "epochs": 2, "attention": {"reduction": 4}},
}
SEEDS = [0, 1, 2]


def fake_accuracy(config, seed):
    """A made-up, deterministic result: each configuration has its own level, each seed a
    small offset, so that the expected summary can be computed by hand."""
    level = {"resnet20": 0.70, "bam_resnet20": 0.75}[config["model"]]
    level += 0.01 * config.get("attention", {}).get("reduction", 0)
    return level + 0.01 * (seed - 1)


class FakeTrainer:
    """Records what it trains; raises KeyboardInterrupt when asked to start run ``stop_at``."""

    def __init__(self, stop_at=None):
        self.trained, self.stop_at = [], stop_at

    def __call__(self, config, seed):
        if len(self.trained) == self.stop_at:
            raise KeyboardInterrupt
        self.trained.append((json.dumps(config, sort_keys=True), seed))
        return {"test_acc": fake_accuracy(config, seed), "params": 1000}


def test_an_interrupted_grid_resumes_with_only_the_remaining_runs(tmp_path):
    results = tmp_path / "grid.jsonl"
    first = FakeTrainer(stop_at=4)
    with pytest.raises(KeyboardInterrupt):
        run_grid(CONFIGS, SEEDS, results, train=first, log=None)
    assert len(read_results(results)) == 4  # the runs that finished, and only those

    second = FakeTrainer()
    rows = run_grid(CONFIGS, SEEDS, results, train=second, log=None)
    everything = [(json.dumps(c, sort_keys=True), s) for s in SEEDS for c in CONFIGS.values()]
    assert second.trained == everything[4:]
    assert len(rows) == len(read_results(results)) == 9

    summary = {s.name: s for s in summarize(rows)}
    assert list(summary) == list(CONFIGS)
    for name, config in CONFIGS.items():
        values = [fake_accuracy(config, seed) for seed in SEEDS]
        assert summary[name].runs == 3
        assert summary[name].mean == pytest.approx(sum(values) / 3)
        assert summary[name].std == pytest.approx(0.01)  # seeds differ by 0.01: sample std 0.01


def test_a_finished_grid_trains_nothing_and_a_grown_grid_only_what_is_new(tmp_path):
    results = tmp_path / "grid.jsonl"
    run_grid(CONFIGS, SEEDS[:2], results, train=FakeTrainer(), log=None)
    again = FakeTrainer()
    run_grid(CONFIGS, SEEDS[:2], results, train=again, log=None)
    assert again.trained == []
    grown = FakeTrainer()
    run_grid(CONFIGS, SEEDS, results, train=grown, log=None)
    assert [seed for _, seed in grown.trained] == [2, 2, 2]


def test_a_run_is_identified_by_its_config_and_seed_not_its_label(tmp_path):
    results = tmp_path / "grid.jsonl"
    run_grid({"bam": {"model": "bam_resnet20"}}, [0], results, train=FakeTrainer(), log=None)
    renamed = FakeTrainer()
    rows = run_grid({"+ BAM": {"model": "bam_resnet20"}}, [0], results, train=renamed, log=None)
    assert renamed.trained == [] and rows[0]["name"] == "+ BAM"
    assert run_key({"a": 1, "b": 2}, 3) == run_key({"b": 2, "a": 1}, 3) != run_key({"a": 1}, 3)


def test_a_line_cut_short_by_a_crash_is_dropped_and_that_run_is_redone(tmp_path):
    results = tmp_path / "grid.jsonl"
    run_grid(CONFIGS, [0], results, train=FakeTrainer(), log=None)
    with open(results, "a") as f:
        f.write('{"name": "plain", "config": {"mod')  # the process died mid-write
    assert len(read_results(results)) == 3
    again = FakeTrainer()
    run_grid(CONFIGS, [0, 1], results, train=again, log=None)
    assert len(again.trained) == 3
    assert len(read_results(results)) == 6  # every line parses: the fragment is gone


def test_a_damaged_line_in_the_middle_is_reported_with_its_number(tmp_path):
    results = tmp_path / "grid.jsonl"
    append_result(results, {"name": "a", "config": {}, "seed": 0, "test_acc": 0.5})
    with open(results, "a") as f:
        f.write("not json\n")
    with pytest.raises(ValueError, match="line 2"):
        read_results(results)


def test_two_labels_for_one_configuration_are_an_error(tmp_path):
    configs = {"a": {"model": "resnet20"}, "b": {"model": "resnet20"}}
    with pytest.raises(ValueError, match="same configuration"):
        run_grid(configs, [0], tmp_path / "grid.jsonl", train=FakeTrainer(), log=None)


def test_a_trainer_may_not_overwrite_the_rows_own_fields(tmp_path):
    with pytest.raises(ValueError, match="reserved keys \\['seed'\\]"):
        run_grid(CONFIGS, [0], tmp_path / "g.jsonl", train=lambda c, s: {"seed": 1}, log=None)


def test_a_single_run_has_no_spread_and_the_table_says_so():
    rows = [{"name": "one", "config": {"m": 1}, "seed": 0, "test_acc": 0.5}]
    [summary] = summarize(rows)
    assert summary.runs == 1 and math.isnan(summary.std)
    table = format_table(summarize(rows), extra={"paper": {"one": "20.00"}})
    assert table.splitlines()[2].split() == ["one", "1", "50.00", "20.00"]


def test_the_table_shows_mean_and_std_in_percent():
    rows = [
        {"name": "bam", "config": {"m": 1}, "seed": s, "test_acc": a}
        for s, a in enumerate([0.80, 0.82, 0.84])
    ]
    assert "82.00 +- 2.00" in format_table(summarize(rows))


def test_summarizing_a_missing_metric_names_it():
    with pytest.raises(ValueError, match="no 'top5'"):
        summarize([{"name": "a", "config": {}, "seed": 0, "test_acc": 0.5}], metric="top5")


def test_the_default_trainer_trains_a_real_model_and_reports_its_metrics():
    config = {
        "model": "se_resnet20",
        "attention": {"reduction": 4},
        "dataset": "shapes",
        "train_size": 32,
        "test_size": 16,
        "epochs": 1,
        "batch_size": 16,
    }
    metrics = train_config(config, seed=0)
    assert 0 <= metrics["test_acc"] <= 1
    assert metrics["test_error"] == pytest.approx(1 - metrics["test_acc"])
    assert metrics["params"] == count_params(create("se_resnet20", reduction=4))
    assert math.isfinite(metrics["train_loss"]) and metrics["train_seconds"] > 0
    assert train_config(config, seed=0)["test_loss"] == metrics["test_loss"]  # same seed


def test_an_identity_start_in_the_configuration_trains_another_network():
    config = {
        "model": "bam_resnet20",
        "dataset": "shapes",
        "train_size": 32,
        "test_size": 16,
        "epochs": 1,
        "batch_size": 16,
    }
    started = train_config({**config, "init": "identity"}, seed=0)
    assert math.isfinite(started["test_loss"]) and math.isfinite(started["train_loss"])
    # Same seed, same batches: only the start of the BAMs differs.
    assert started["test_loss"] != train_config(config, seed=0)["test_loss"]


def test_the_lesson_ablations_change_one_setting_of_the_default_bam_at_a_time():
    peers, ablations = lesson_grid("cpu")
    assert list(peers) == [
        "ResNet-20",
        "+ SE",
        "+ CBAM",
        "+ BAM",
        *(f"+ {name}{IDENTITY}" for name in ("BAM", "SE", "CBAM")),
    ]
    for name, config in ablations.items():
        default = peers[f"+ BAM{IDENTITY}" if name.endswith(IDENTITY) else "+ BAM"]
        changed = {k for k in config.keys() | default.keys() if config.get(k) != default.get(k)}
        assert changed in ({"attention"}, {"model"}), name
        assert len(config.get("attention", {"one": 1})) == 1, name
    for config in [*peers.values(), *ablations.values()]:
        # every name and option is real
        create(config["model"], init=config.get("init", "default"), **config.get("attention", {}))


def test_every_ablation_is_run_on_both_starts_of_bam():
    peers, ablations = lesson_grid("cpu")
    default = [name for name in ablations if not name.endswith(IDENTITY)]
    assert len(default) == 11
    assert [name.removesuffix(IDENTITY) for name in ablations if name.endswith(IDENTITY)] == default
    for name in [*peers, *ablations]:
        config = {**peers, **ablations}[name]
        assert config.get("init", "default") == (
            "identity" if name.endswith(IDENTITY) else "default"
        )


def test_the_default_runs_keep_the_configurations_they_shipped_with():
    # A run is identified by its configuration: adding the identity start must not rename the
    # runs of the paper's BAM, or the shipped grid would no longer resume.
    shipped = {run_key(row["config"], row["seed"]) for row in bam.pretrained.grid("08-shapes-grid")}
    peers, ablations = lesson_grid("cpu")
    default = {n: c for n, c in {**peers, **ablations}.items() if not n.endswith(IDENTITY)}
    assert len(default) == 15
    for name, config in default.items():
        assert run_key(config, 0) in shipped, name


def test_the_fast_lesson_grid_is_two_runs():
    peers, ablations = lesson_grid("fast")
    assert len(peers) == 2 and not ablations


def test_the_seeds_asked_for_are_the_only_ones_trained_also_from_the_command_line(tmp_path):
    results = tmp_path / "grid.jsonl"
    rows = run_lesson_grid("fast", results, log=None, seeds=[1])  # not fast's seed 0
    assert [(r["name"], r["seed"]) for r in read_results(results)] == [
        ("ResNet-20", 1),
        ("+ BAM", 1),
    ]
    # The command line asks for the same seed: it finds both runs done and trains nothing.
    assert main(["--setting", "fast", "--results", str(results), "--seeds", "1"]) == rows
    assert len(read_results(results)) == 2


def test_the_seeds_asked_for_replace_those_of_both_parts(tmp_path):
    peers, ablations = lesson_grid("cpu")
    # A made-up trainer: the fast grid has no ablations, and the CPU grid trains for an hour.
    rows = run_lesson_grid(
        "cpu", tmp_path / "grid.jsonl", log=None, seeds=[5], train=lambda *_: {"test_error": 0.5}
    )
    assert [(r["name"], r["seed"]) for r in rows] == [(name, 5) for name in [*peers, *ablations]]


def test_a_negative_seed_on_the_command_line_is_one_line_and_status_2(tmp_path, capsys):
    results = tmp_path / "grid.jsonl"
    with pytest.raises(SystemExit) as stop:
        main(["--setting", "fast", "--results", str(results), "--seeds", "0", "-1"])
    assert stop.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "--seeds" in line and "0 or more" in line and "-1" in line
    assert not results.exists()  # refused before anything was trained


def test_a_difference_comes_with_its_standard_error():
    a = Summary("a", {}, 4, 0.80, 0.02, [])
    b = Summary("b", {}, 2, 0.78, 0.04, [])
    diff, se = difference(a, b)
    assert diff == pytest.approx(0.02)
    assert se == pytest.approx(math.sqrt(0.02**2 / 4 + 0.04**2 / 2))


def test_a_shared_spread_gives_every_difference_a_standard_error():
    a = Summary("a", {}, 1, 0.80, math.nan, [0.80])
    b = Summary("b", {}, 3, 0.78, 0.02, [0.76, 0.78, 0.80])
    assert math.isnan(difference(a, b)[1])
    diff, se = difference(a, b, std=0.03)
    assert diff == pytest.approx(0.02) and se == pytest.approx(0.03 * math.sqrt(1 + 1 / 3))


def test_the_pooled_spread_weighs_each_configuration_by_its_degrees_of_freedom():
    summaries = [
        Summary("a", {}, 3, 0.5, 0.02, []),
        Summary("b", {}, 2, 0.5, 0.05, []),
        Summary("c", {}, 1, 0.5, math.nan, []),
    ]
    assert pooled_std(summaries) == pytest.approx(math.sqrt((2 * 0.02**2 + 0.05**2) / 3))
    assert math.isnan(pooled_std(summaries[2:]))


# ----------------------------------------------------------------------------- workers
def pickled_by_value():
    """Worker processes cannot import this test module: send its functions along by value."""
    import sys

    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


class KillOnce(FakeTrainer):
    """A fake trainer whose worker process is killed (SIGKILL) the first time it starts the
    run ``victim``; ``marker`` remembers, across processes, that it happened."""

    def __init__(self, victim, marker):
        super().__init__()
        self.victim, self.marker = victim, marker

    def __call__(self, config, seed):
        import os
        import signal

        if (config, seed) == self.victim and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(config, seed)


def same_summaries(a, b):
    return [(s.name, s.runs, s.values) for s in a] == [(s.name, s.runs, s.values) for s in b]


@pytest.mark.integration  # submitit starts a worker process per run
def test_two_local_workers_give_the_summary_of_one_and_survive_a_killed_worker(tmp_path):
    pytest.importorskip("submitit")
    from bam.experiments import GridIncomplete

    pickled_by_value()
    # Two runs side by side, each a worker process of its own: one dies while the other finishes.
    configs, seeds = {k: CONFIGS[k] for k in ("plain", "bam")}, SEEDS[:1]
    one = summarize(run_grid(configs, seeds, tmp_path / "one.jsonl", FakeTrainer(), log=None))
    results = tmp_path / "two.jsonl"
    trainer = KillOnce((CONFIGS["bam"], 0), tmp_path / "killed")
    with pytest.raises(
        GridIncomplete, match=r"1 of 2 runs failed: bam seed 0 .*ended without a result"
    ):
        run_grid(configs, seeds, results, trainer, log=None, executor="local", workers=2)
    assert len(read_results(results)) == 1  # the other finished; its line parses
    rows = run_grid(configs, seeds, results, trainer, log=None, executor="local", workers=2)
    assert len(read_results(results)) == 2  # only the killed run was trained again
    assert same_summaries(summarize(rows), one)


class RaiseFor(FakeTrainer):
    """A fake trainer that raises for the configuration ``broken``."""

    def __init__(self, broken):
        super().__init__()
        self.broken = broken

    def __call__(self, config, seed):
        if config == self.broken:
            raise ValueError("lr must be positive, got -1")
        return super().__call__(config, seed)


@pytest.mark.integration  # submitit starts a worker process per run
def test_a_run_that_raises_in_its_worker_is_named_with_its_exception(tmp_path):
    pytest.importorskip("submitit")
    from bam.experiments import GridIncomplete

    pickled_by_value()
    configs = {k: CONFIGS[k] for k in ("plain", "bam")}
    lines = []
    trainer = RaiseFor(CONFIGS["bam"])
    # submitit's report of the failure ends with where the logs are: not what went wrong.
    with pytest.raises(GridIncomplete) as raised:
        run_grid(configs, SEEDS[:1], tmp_path / "grid.jsonl", trainer, log=lines.append,
                 executor="local", workers=2)  # fmt: skip
    assert re.search(
        r"bam seed 0 \(job \w+: ValueError: lr must be positive, got -1\)", str(raised.value)
    )
    assert any(line.endswith("failed: ValueError: lr must be positive, got -1") for line in lines)


@pytest.mark.integration  # submitit starts a worker process per run
def test_a_tiny_real_grid_gives_the_same_summary_here_and_in_two_workers(tmp_path):
    pytest.importorskip("submitit")
    tiny = {"dataset": "shapes", "train_size": 64, "test_size": 32, "epochs": 1, "batch_size": 32}
    configs = {"bam": {"model": "bam_resnet20", **tiny}}
    # One thread here and in each worker, so that a seed gives the same run in either.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = run_grid(configs, [0, 1], tmp_path / "here.jsonl", log=None)
    finally:
        torch.set_num_threads(threads)
    workers = run_grid(
        configs, [0, 1], tmp_path / "two.jsonl", log=None, executor="local", workers=2, threads=1
    )
    assert same_summaries(summarize(here), summarize(workers))


def append_many(path, writer, count):
    for i in range(count):
        append_result(path, {"writer": writer, "i": i, "padding": "x" * 20_000})


def test_writers_in_several_processes_never_mix_their_lines(tmp_path):
    import multiprocessing

    results = tmp_path / "grid.jsonl"
    # fork where there is one: a spawned writer would import torch before writing a line.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    writers = [context.Process(target=append_many, args=(results, w, 40)) for w in range(4)]
    for p in writers:
        p.start()
    for p in writers:
        p.join()
    rows = read_results(results)
    assert sorted((r["writer"], r["i"]) for r in rows) == [
        (w, i) for w in range(4) for i in range(40)
    ]


def test_workers_without_an_executor_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        main(["--setting", "fast", "--workers", "2"])
    assert "need --executor" in capsys.readouterr().err


def test_only_the_configurations_asked_for_are_trained(tmp_path):
    fake = {"train": lambda *_: {"test_error": 0.5}, "log": None}
    wanted = ["+ SE, identity init", "r = 4"]
    rows = run_lesson_grid("cpu", tmp_path / "grid.jsonl", seeds=[0], only=wanted, **fake)
    assert [r["name"] for r in rows] == ["+ SE, identity init", "r = 4"]


def test_an_unknown_label_lists_the_labels_there_are(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(
            ["--setting", "cpu", "--parts", "peers", "--only", "+ VGG", "--results", str(tmp_path)]
        )
    assert stop.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "no configuration labelled '+ VGG' in peers" in line and "'+ SE, identity init'" in line
    assert "'r = 4'" not in line  # a label of the part not asked for
