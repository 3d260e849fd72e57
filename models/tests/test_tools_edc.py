import numpy as np
import pytest

from tools import edc
from tools.splits import heldout, validation


def test_pauc_should_be_one_for_an_order_blind_to_failures_and_the_floor_for_failures_first():
    failed = np.array([True, False] * 500)
    blind = np.zeros(1000)
    # A constant quality keeps the original order: alternating failures, FNMR stays 0.5 throughout.
    assert edc.pauc(failed, blind, 0.2) == pytest.approx(1.0, abs=0.01)
    floor = edc.pauc(failed, (~failed).astype(float), 0.2)
    # Discarding failing pairs first: FNMR falls from 0.5 towards 0.375 at d = 0.2 (mean about 0.44).
    assert 0.85 < floor < 0.9
    worst = edc.pauc(failed, failed.astype(float), 0.2)
    assert worst > 1.05


def test_edc_table_should_rank_a_quality_that_finds_the_bad_images_above_random():
    rng = np.random.default_rng(1)
    ids = [f'p{k // 4}' for k in range(400)]
    centre = rng.normal(size=(100, 32))
    bad = rng.random(400) < 0.3
    noise = np.where(bad[:, None], 3.0, 0.3)
    emb = centre[[int(i[1:]) for i in ids]] + rng.normal(size=(400, 32)) * noise
    table = edc.edc_table(emb, ids, {'knows': (~bad).astype(float) + rng.random(400) * 0.1,
                                      'random': rng.random(400)}, impostors=20_000)
    p = table['pauc']
    assert table['fnmr0'] > 0.1
    assert p['floor']['@0.2'] <= p['knows']['@0.2'] < p['random']['@0.2'] - 0.1


def test_validation_should_keep_back_about_the_fraction_asked_independently_of_heldout():
    names = [f'Person_{k}' for k in range(5000)]
    val = [n for n in names if validation(n, 0.15)]
    assert 0.13 < len(val) / len(names) < 0.17
    assert not any(validation(n, 0.0) for n in names)
    # Independent rules: the held-out fifth is split in about the same proportion.
    share = sum(heldout(n) for n in val) / len(val)
    assert 0.15 < share < 0.25
