"""check_bug_test grades a learner's test by mutation: the lesson's own test for each of the nine
bugs passes; weak tests, tests that pin one implementation, always-failing and always-passing
tests are rejected with a message that says what they miss."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from bam import BAM, ChannelGate, SpatialGate
from bam.checks import (
    BUGS,
    CheckFailed,
    NotWrittenYet,
    allocated_bytes,
    check_bug_test,
    parameters_without_gradient,
)
from bam.profile import count_params

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "04_bug_hunt.ipynb"
CALL_AT_LINE_START = re.compile(r"^\s*(run_test|check_\w+)\(|plt\.|%pip", re.MULTILINE)

# bug: (the lesson's test, the lesson's buggy module)
LESSON_CASES = {
    1: ("test_every_parameter_gets_a_gradient", "DeadDilationSpatialGate"),
    2: ("test_keeps_the_shape", "RebindingBAM"),
    3: ("test_follows_the_paper_equation", "ProductBAM"),
    4: ("test_ignores_pixel_order", "SquarePoolChannelGate"),
    5: ("test_works_with_fewer_channels_than_the_reduction", "ZeroWidthChannelGate"),
    6: ("test_a_batch_of_one_fails_with_advice", "LinearChannelGate"),
    7: ("test_logits_are_standardised_at_initialisation", "NoFinalNormChannelGate"),
    8: ("test_spatial_map_keeps_height_and_width", "PaddingOneSpatialGate"),
    9: ("test_allocates_no_more_than_broadcasting", "combine_materialised"),
}


@pytest.fixture(scope="module")
def lesson() -> dict:
    """The lesson's definitions (buggy modules, its solution tests, the tensors of bug 9), made
    by running its code cells but those that plot, train or call a check."""
    namespace: dict = {}
    for cell in nbformat.read(LESSON, as_version=4).cells:
        if cell.cell_type == "code" and not CALL_AT_LINE_START.search(cell.source):
            exec(compile(cell.source, str(LESSON), "exec"), namespace)
    return namespace


def grade(lesson: dict, bug: int, test) -> str:
    """The check's reply: its success line, or the message of its CheckFailed."""
    try:
        check_bug_test(test, bug=bug, buggy=lesson[LESSON_CASES[bug][1]])
    except CheckFailed as err:
        return f"REJECTED {err}"
    return "ACCEPTED"


@pytest.mark.parametrize("bug", sorted(LESSON_CASES))
def test_the_lessons_own_test_passes_the_grading(lesson, bug, capsys):
    test, buggy = LESSON_CASES[bug]
    check_bug_test(lesson[test], bug=bug, buggy=lesson[buggy])
    line = capsys.readouterr().out
    assert line.startswith(f"check_bug_test, bug {bug} (") and f"lesson's {buggy}" in line


def test_every_bug_has_held_out_versions_of_itself_and_right_versions_written_differently():
    assert sorted(BUGS) == list(range(1, 10))
    for bug, spec in BUGS.items():
        assert len(spec.buggy) >= 3, f"bug {bug}"
        assert len(spec.right) >= 2, f"bug {bug}"
        assert all(version.misses for version in spec.buggy), f"bug {bug}"


# ---------------------------------------------------------------- weak tests learners write


def shape_of_a_spatial_map(make):
    x = torch.randn(2, 32, 12, 12)
    assert make(32, reduction=4)(x).shape == (2, 1, 12, 12)


def same_parameter_count_as_the_reference(make):
    assert count_params(make(32, reduction=4)) == count_params(SpatialGate(32, 4))


def the_loss_falls_in_a_few_steps(make):
    torch.manual_seed(0)
    module, x = make(32, reduction=4), torch.randn(4, 32, 12, 12)
    target = x[:, :1].clone()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.mse_loss(module(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def shape_kept_at_sixteen_channels_and_r_sixteen(make):
    x = torch.randn(2, 16, 10, 14)
    assert make(16, reduction=16)(x).shape == x.shape


def the_spatial_map_has_one_channel(make):
    module = make(32, reduction=4)
    assert module.spatial(torch.randn(2, 32, 10, 14)).shape[1] == 1


def bam_keeps_the_shape(make):
    x = torch.randn(2, 32, 10, 14)
    assert make(32, reduction=4)(x).shape == x.shape


def output_lies_between_f_and_2f(make):
    x = torch.rand(2, 32, 10, 14) + 0.1
    out = make(32, reduction=4).eval()(x)
    assert (out >= x).all() and (out <= 2 * x).all()


def output_is_not_the_product_form(make):
    module = make(32, reduction=4).eval()
    x = torch.randn(2, 32, 10, 14)
    product = x * (1 + torch.sigmoid(module.channel(x) * module.spatial(x)))
    assert not torch.allclose(module(x), product)


def runs_on_a_square_input(make):
    make(32, reduction=4)(torch.randn(2, 32, 32, 32))


def shape_on_a_wide_input(make):
    assert make(32, reduction=4)(torch.randn(2, 32, 6, 10)).shape == (2, 32, 1, 1)


def pixel_order_on_square_inputs_only(make):
    gate = make(32, reduction=4).eval()
    x = torch.randn(2, 32, 8, 8)
    shuffled = x.flatten(2)[:, :, torch.randperm(64)].view_as(x)
    assert torch.allclose(gate(shuffled), gate(x), atol=1e-5)


def builds_with_fewer_channels_than_the_reduction(make):
    make(8, reduction=16)


def works_at_the_default_width(make):
    assert make(64, reduction=16)(torch.randn(4, 64, 6, 6)).shape == (4, 64, 1, 1)


def shape_with_fewer_channels_than_the_reduction(make):
    assert make(8, reduction=16)(torch.randn(4, 8, 6, 6)).shape == (4, 8, 1, 1)


def one_image_raises_a_value_error(make):
    with pytest.raises(ValueError):
        make(32, reduction=4).train()(torch.randn(1, 32, 6, 6))


def one_image_works_in_eval_mode(make):
    make(32, reduction=4).eval()(torch.randn(1, 32, 6, 6))


def the_error_on_one_image_mentions_eval(make):
    with pytest.raises(ValueError, match=r"eval\(\)"):
        make(32, reduction=4).train()(torch.randn(1, 32, 6, 6))


def has_a_batchnorm_layer(make):
    assert any(isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) for m in make(32, 4).modules())


def the_last_layer_is_a_batchnorm(make):
    assert isinstance(list(make(32, reduction=4).modules())[-1], nn.BatchNorm2d | nn.BatchNorm1d)


def channel_logits_shape(make):
    assert make(32, reduction=4)(torch.randn(4, 32, 6, 10)).shape == (4, 32, 1, 1)


def height_and_width_kept_at_dilation_one(make):
    x = torch.randn(2, 32, 20, 28)
    assert make(32, reduction=4, dilation=1)(x).shape[2:] == x.shape[2:]


def height_and_width_kept_at_the_default_dilation(make):
    x = torch.randn(2, 32, 20, 28)
    assert make(32, reduction=4)(x).shape[2:] == x.shape[2:]


def spatial_branch_runs(make):
    make(32, reduction=4, dilation=2)(torch.randn(2, 32, 20, 28))


# A bug-9 test reads the lesson's tensors f, mc, ms: these build it from the lesson's namespace.


def output_equals_the_equation(lesson):
    f, mc, ms = lesson["f"], lesson["mc"], lesson["ms"]

    def test(combine):
        torch.testing.assert_close(combine(f, mc, ms), f * (1 + torch.sigmoid(mc + ms)))

    return test


def a_loose_memory_budget(lesson):
    f, mc, ms, full = lesson["f"], lesson["mc"], lesson["ms"], lesson["full"]

    def test(combine):
        assert allocated_bytes(combine, f, mc, ms) <= 10 * full

    return test


def an_exact_memory_figure(lesson):
    f, mc, ms = lesson["f"], lesson["mc"], lesson["ms"]
    budget = allocated_bytes(lesson["combine_broadcast"], f, mc, ms)

    def test(combine):
        assert allocated_bytes(combine, f, mc, ms) == budget

    return test


WEAK = [
    # (bug, test, what the reply must say)
    (1, shape_of_a_spatial_map, "passes on the lesson's DeadDilationSpatialGate"),
    (1, same_parameter_count_as_the_reference, "passes on the lesson's DeadDilationSpatialGate"),
    (1, the_loss_falls_in_a_few_steps, "passes on the lesson's DeadDilationSpatialGate"),
    (2, shape_kept_at_sixteen_channels_and_r_sixteen, "passes on the lesson's RebindingBAM"),
    (2, the_spatial_map_has_one_channel, "expanded to the reduced tensor's C / r channels"),
    (3, bam_keeps_the_shape, "passes on the lesson's ProductBAM"),
    (3, output_lies_between_f_and_2f, "passes on the lesson's ProductBAM"),
    (3, output_is_not_the_product_form, "maximum of the branches' logits"),
    (4, runs_on_a_square_input, "passes on the lesson's SquarePoolChannelGate"),
    (4, shape_on_a_wide_input, "passes on the lesson's SquarePoolChannelGate"),
    (4, pixel_order_on_square_inputs_only, "passes on the lesson's SquarePoolChannelGate"),
    (5, builds_with_fewer_channels_than_the_reduction, "passes on the lesson's ZeroWidth"),
    (5, works_at_the_default_width, "passes on the lesson's ZeroWidthChannelGate"),
    (5, shape_with_fewer_channels_than_the_reduction, "hidden layer has no units"),
    (6, one_image_raises_a_value_error, "passes on the lesson's LinearChannelGate"),
    (6, one_image_works_in_eval_mode, "passes on the lesson's LinearChannelGate"),
    (6, the_error_on_one_image_mentions_eval, "refuses one image in eval mode too"),
    (7, has_a_batchnorm_layer, "passes on the lesson's NoFinalNormChannelGate"),
    (7, channel_logits_shape, "passes on the lesson's NoFinalNormChannelGate"),
    (7, the_last_layer_is_a_batchnorm, "fails on a right channel branch written differently"),
    (8, height_and_width_kept_at_dilation_one, "passes on the lesson's PaddingOneSpatialGate"),
    (8, height_and_width_kept_at_the_default_dilation, "pads by 4, right for the default"),
    (8, spatial_branch_runs, "passes on the lesson's PaddingOneSpatialGate"),
    (9, output_equals_the_equation, "passes on the lesson's combine_materialised"),
    (9, a_loose_memory_budget, "passes on the lesson's combine_materialised"),
    (9, an_exact_memory_figure, "fails on a right combine function written differently"),
]


@pytest.mark.parametrize(
    ("bug", "weak", "reply"), WEAK, ids=[f"bug{b}-{w.__name__}" for b, w, _ in WEAK]
)
def test_a_plausible_weak_test_is_rejected_with_what_it_misses(lesson, bug, weak, reply):
    test = weak(lesson) if bug == 9 else weak
    verdict = grade(lesson, bug, test)
    assert verdict.startswith("REJECTED") and reply in verdict, verdict


def test_at_least_two_weak_tests_per_bug_are_rejected():
    assert all(sum(b == bug for b, _, _ in WEAK) >= 2 for bug in BUGS)


def always_fails(_make):
    raise AssertionError("this test never passes")


def always_passes(_make):
    pass


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_an_always_failing_and_an_always_passing_test_are_rejected(lesson, bug):
    reference = BUGS[bug].reference.what
    assert f"fails on {reference}, which is right" in grade(lesson, bug, always_fails)
    assert "passes on the lesson's" in grade(lesson, bug, always_passes)


def test_a_test_that_crashes_on_the_reference_is_called_wrong(lesson):
    def test_uses_an_attribute_only_one_module_has(make):
        assert make(32, reduction=4).body[3].dilation == (4, 4)  # lesson 02's solution has one

    verdict = grade(lesson, 1, test_uses_an_attribute_only_one_module_has)
    assert "crashes on bam.SpatialGate, which is right (AttributeError" in verdict
    assert "a test that crashes on correct code is wrong" in verdict


def test_a_test_that_pins_one_structure_is_told_what_it_pins(lesson):
    def test_against_the_reference_weights(make):
        module, reference = make(32, reduction=4).eval(), ChannelGate(32, 4).eval()
        module.load_state_dict(reference.state_dict())
        x = torch.randn(2, 32, 6, 10)
        torch.testing.assert_close(module(x), reference(x))

    verdict = grade(lesson, 4, test_against_the_reference_weights)
    assert "fails on a right channel branch written differently" in verdict
    assert "it pins one way of writing the channel branch" in verdict


def test_an_unfinished_test_is_reported_as_not_written_yet(lesson):
    def test_every_parameter_gets_a_gradient(make):
        raise NotImplementedError

    with pytest.raises(NotWrittenYet, match="test_every_parameter_gets_a_gradient.* is not wr"):
        check_bug_test(test_every_parameter_gets_a_gradient, bug=1, buggy=SpatialGate)


def test_messages_about_held_out_versions_never_show_their_code(lesson):
    for bug, weak, _ in WEAK:
        verdict = grade(lesson, bug, weak(lesson) if bug == 9 else weak)
        if "your test passes on" in verdict:  # the others quote the learner's own error
            assert not re.search(r"\bdef |self\.|return |torch\.", verdict), verdict


def test_grading_leaves_the_random_state_and_the_reference_untouched(lesson):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_bug_test(lesson["test_keeps_the_shape"], bug=2, buggy=lesson["RebindingBAM"])
    assert torch.equal(torch.rand(3), expected)
    assert parameters_without_gradient(BAM(32, 4).eval(), torch.randn(2, 32, 8, 8)) == []


def test_a_bug_number_outside_the_lesson_is_refused():
    with pytest.raises(ValueError, match="bug must be one of"):
        check_bug_test(always_passes, bug=10, buggy=SpatialGate)
