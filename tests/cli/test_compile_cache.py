"""The CLI's persistent JAX compilation cache: where it lives and how it is switched on."""

from types import SimpleNamespace


def test_cache_folder_from_environment(monkeypatch, tmp_path):
    from homodyne_cli.app import compilation_cache_dir

    monkeypatch.delenv("HOMODYNE_JAX_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compilation_cache_dir() == tmp_path / "xdg" / "homodyne" / "jax"
    monkeypatch.setenv("HOMODYNE_JAX_CACHE", str(tmp_path / "mine"))
    assert compilation_cache_dir() == tmp_path / "mine"
    for off in ("off", "0", "", "None"):
        monkeypatch.setenv("HOMODYNE_JAX_CACHE", off)
        assert compilation_cache_dir() is None


def test_cache_is_configured_with_a_size_bound_and_respects_the_user(monkeypatch, tmp_path):
    from homodyne_cli.app import _CACHE_MAX_BYTES, _compilation_cache

    class Config:
        def __init__(self, preset):
            self.values = {"jax_compilation_cache_dir": preset}

        def update(self, key, value):
            self.values[key] = value

        def __getattr__(self, key):
            return self.__dict__["values"][key]

    def fake_jax(preset=None):
        config = Config(preset)
        return SimpleNamespace(config=config), config.values

    from homodyne_physics.programs import program_cache_dir, set_program_cache

    previous = program_cache_dir()
    monkeypatch.setenv("HOMODYNE_JAX_CACHE", str(tmp_path / "cache"))
    jax, cfg = fake_jax()
    _compilation_cache(jax)
    # the fit's compiled programs are kept beside JAX's cache (homodyne_physics.programs)
    assert program_cache_dir() == tmp_path / "cache" / "programs"
    set_program_cache(previous)
    assert (tmp_path / "cache").is_dir()
    assert cfg["jax_compilation_cache_dir"] == str(tmp_path / "cache")
    # the size bound turns on JAX's file-locked eviction: safe for concurrent runs
    assert cfg["jax_compilation_cache_max_size"] == _CACHE_MAX_BYTES
    jax, cfg = fake_jax(preset="/elsewhere")  # the user set JAX's own option: leave it
    _compilation_cache(jax)
    assert cfg == {"jax_compilation_cache_dir": "/elsewhere"}
    monkeypatch.setenv("HOMODYNE_JAX_CACHE", "off")
    jax, cfg = fake_jax()
    _compilation_cache(jax)
    assert cfg == {"jax_compilation_cache_dir": None}
