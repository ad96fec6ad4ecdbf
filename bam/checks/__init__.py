"""Checks for the course's exercises: a learner's code against the ``bam`` reference.

    check_channel_gate(MyChannelGate)      lesson 01: Mc(F), paper eq. 3
    check_spatial_gate(MySpatialGate)      lesson 02: Ms(F), paper eq. 4
    check_bam(MyBAM)                       lesson 03: F * (1 + sigmoid(Mc(F) + Ms(F))), eqs. 1-2
    check_bug_test(test, bug=N, buggy=M)   lesson 04: grades a test the learner wrote, by mutation
    check_add_bam(add_bam_by_hand)         lesson 05: a BAM after every ResNet stage but the last
    check_crop(crop_batch)                 lesson 06: a batch cropped at per-image offsets
    check_energy_share(energy_share)       lesson 07: the share of attention on the object
    check_squeeze_excite(MySqueezeExcite)  lesson 08: Squeeze-and-Excitation, Hu et al. 2018

Every check prints one line on success and raises ``CheckFailed`` (an ``AssertionError``) that
says what is wrong on failure: in Jupyter, that sentence and the line of the learner's code at
fault, no traceback. An unfinished stub is reported as ``NotWrittenYet`` by every check, with
the same words; and once the checks are imported in a notebook, any cell that runs into an
unfinished stub says which exercise it waits for.

Where things are:
    speaking        how a check speaks: its exceptions, the learner's frame, the notebook handler
    instruments     lesson 04's tests: parameters_without_gradient, allocated_bytes
    alignment       lining up a learner's layers with the reference's, copying weights
    matching        the engine of the layer checks: configurations, shapes, gradients, outputs
    branches        lessons 01-03         networks       lesson 05
    augmentation    lesson 06             localisation   lesson 07
    peers           lesson 08             bug_tests      lesson 04's grading, by mutation
    bug_catalog, right_versions, buggy_versions: the versions lesson 04's grading runs
    bug_sources     where lesson 04's bugs occur in public code, and the users' reports
"""

from bam.checks.alignment import execution_order
from bam.checks.augmentation import check_crop
from bam.checks.branches import check_bam, check_channel_gate, check_spatial_gate
from bam.checks.bug_catalog import BUGS
from bam.checks.bug_tests import check_bug_test
from bam.checks.instruments import allocated_bytes, parameters_without_gradient
from bam.checks.localisation import check_energy_share
from bam.checks.networks import check_add_bam
from bam.checks.peers import check_squeeze_excite
from bam.checks.speaking import CheckFailed, NotWrittenYet, raise_if_unfinished

__all__ = [
    "BUGS",
    "CheckFailed",
    "NotWrittenYet",
    "allocated_bytes",
    "check_add_bam",
    "check_bam",
    "check_bug_test",
    "check_channel_gate",
    "check_crop",
    "check_energy_share",
    "check_spatial_gate",
    "check_squeeze_excite",
    "execution_order",
    "parameters_without_gradient",
    "raise_if_unfinished",
]
