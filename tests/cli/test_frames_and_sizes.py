"""Issue 15 items 8 and 9: frames past the data, sizes estimated before allocating."""

import pytest


def _opts(sim_files, **kw):
    base = dict(
        config=None,
        data_file=[sim_files["static"]],
        mode="static",
        dt=0.1,
        initial=None,
    )
    return {**base, **kw}


def test_end_frame_past_the_data_is_an_error_unless_clipping_is_asked(sim_files):
    from homodyne_cli.commands.run import resolve_run_config
    from homodyne_cli.config import data_config
    from homodyne_data import EmptyFrameRangeError, load_data

    run = resolve_run_config(_opts(sim_files, end_frame=100))
    with pytest.raises(EmptyFrameRangeError, match="end_frame 100 is past the last frame") as e:
        load_data(data_config(run, run.files[0], None))
    assert "(60 frames)" in str(e.value) and str(sim_files["static"]) in str(e.value)
    run.clip_frames = True  # what `run --clip-frames` sets
    assert load_data(data_config(run, run.files[0], None)).n_t == 60
