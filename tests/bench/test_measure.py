"""The start-up subtraction arithmetic, on fabricated timings."""

import pytest

from pyvmm.bench import measure


def test_mips_is_millions_per_second():
    assert measure.mips(300_000_000, 1.5) == pytest.approx(200.0)


def test_mips_rejects_no_time():
    with pytest.raises(measure.MeasurementError):
        measure.mips(10, 0.0)


def test_startup_cancels_in_the_difference():
    # 1,000 MIPS behind a fixed 80 ms start-up: the naive rate of the large
    # run is wrong, the difference rate is exact.
    startup, rate = 0.080, 1000e6
    small, large = 37_000_000, 295_000_000
    small_seconds = [startup + small / rate] * 3
    large_seconds = [startup + large / rate] * 3
    assert large / large_seconds[0] / 1e6 < 800
    assert measure.mips_without_startup(small, small_seconds, large, large_seconds) == \
        pytest.approx(1000.0)
    assert measure.startup_seconds(small, small_seconds, large, large_seconds) == \
        pytest.approx(startup)


def test_medians_discard_an_outlier_on_each_side():
    small_seconds = [0.10, 0.11, 0.90]          # one run delayed by the host
    large_seconds = [0.31, 0.05, 0.30]          # one impossible fast sample
    # medians 0.11 and 0.30: 190 M instructions in 0.19 s
    assert measure.mips_without_startup(10_000_000, small_seconds, 200_000_000, large_seconds) == \
        pytest.approx(1000.0)


def test_even_number_of_samples_uses_the_mean_of_the_middle_two():
    assert measure.median_seconds([0.4, 0.1, 0.2, 0.3]) == pytest.approx(0.25)


def test_large_run_must_retire_more():
    with pytest.raises(measure.MeasurementError, match="must retire more"):
        measure.mips_without_startup(100, [0.1], 100, [0.2])


def test_noisy_timings_are_refused_not_reported():
    with pytest.raises(measure.MeasurementError, match="too noisy"):
        measure.mips_without_startup(1_000, [0.20], 2_000, [0.19])


@pytest.mark.parametrize("samples", [[], [0.1, -0.1]])
def test_bad_samples(samples):
    with pytest.raises(measure.MeasurementError):
        measure.median_seconds(samples)


def test_ratio():
    assert measure.ratio(250.0, 1000.0) == pytest.approx(0.25)
    assert measure.ratio(None, 1000.0) is None
    assert measure.ratio(250.0, 0) is None
    assert measure.ratio(250.0, None) is None
