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
    import dataclasses

    # what `run --clip-frames` sets
    run = dataclasses.replace(run, data=dataclasses.replace(run.data, clip_frames=True))
    assert load_data(data_config(run, run.files[0], None)).n_t == 60


def _simulate_opts(tmp_path, **kw):
    o = dict(
        output=tmp_path / "sim.hdf",
        mode="static",
        param=None,
        phi="0",
        q=0.0054,
        dt=0.1,
        n_frames=200,
        contrast=0.3,
        offset=1.0,
        noise=0.01,
        seed=0,
        layout="aps_u",
        convention="physical",
        write_config=False,
        force=False,
    )
    return {**o, **kw}


def test_simulate_refuses_a_size_beyond_memory_with_the_estimate(tmp_path):
    from homodyne_cli.commands.simulate_cmd import simulate_command
    from homodyne_cli.errors import exit_code_for
    from homodyne_cli.memory import MemoryLimitError

    with pytest.raises(MemoryLimitError, match=r"about 400 GB of memory \(estimate\)") as e:
        simulate_command(**_simulate_opts(tmp_path, n_frames=100000))
    assert "more than the limit of" in str(e.value) and "--n-frames" in str(e.value)
    assert exit_code_for(e.value) == 2
    assert not (tmp_path / "sim.hdf").exists()


def test_simulate_unwritable_output_is_an_output_error(tmp_path, monkeypatch):
    import homodyne_data
    from homodyne_cli.commands.simulate_cmd import simulate_command
    from homodyne_cli.errors import OutputError, exit_code_for

    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is not a folder") as e:
        simulate_command(**_simulate_opts(tmp_path, output=tmp_path / "file" / "sim.hdf"))
    assert exit_code_for(e.value) == 2

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(homodyne_data, "write_aps_u", denied)
    with pytest.raises(OutputError, match="cannot write .*sim.hdf: Permission denied"):
        simulate_command(**_simulate_opts(tmp_path, n_frames=20))


def test_run_refuses_model_matrices_beyond_the_memory_limit(sim_files, tmp_path, monkeypatch):
    import homodyne_nlsq
    from homodyne_cli.memory import MemoryLimitError

    from .test_run_folder import pipeline

    def never(*a, **k):
        raise AssertionError("the fit must not start")

    monkeypatch.setattr(homodyne_nlsq, "fit_nlsq", never)
    monkeypatch.setenv("HOMODYNE_MEMORY_LIMIT_GB", "0.0001")
    with pytest.raises(MemoryLimitError, match=r"model matrices for 3 angle\(s\) x 60 x 60"):
        pipeline(sim_files, tmp_path, tmp_path / "o")
