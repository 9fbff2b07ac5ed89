"""The CI rule: sources changed since a package's last tag -> [Unreleased] has an entry."""

import check_changelogs
import workspace


def test_no_tags_compare_with_the_first_commit(mini_repo):
    problems, notes = check_changelogs.check(mini_repo)
    assert problems == []
    assert all("unchanged since the first commit" in n and "tag yet" in n for n in notes), notes
    (mini_repo / "packages/homodyne-data/src/mod.py").write_text("x = 2\n")
    problems, notes = check_changelogs.check(mini_repo)  # uncommitted changes count too
    assert problems == []  # the data CHANGELOG lists "First work." under [Unreleased]
    assert any(n.startswith("homodyne-data: 1 source file(s) changed") for n in notes), notes


def test_changed_since_tag_without_entry_fails_then_passes(mini_repo, git):
    data = mini_repo / "packages/homodyne-data"
    text = (data / "CHANGELOG.md").read_text()
    released = "## [Unreleased]\n\n## [0.2.0] - 2026-12-01\n\n- First work.\n\n## [0.1.0]"
    text = text.replace("## [Unreleased]\n\n- First work.\n\n## [0.1.0]", released)
    (data / "CHANGELOG.md").write_text(text)
    toml = (data / "pyproject.toml").read_text()
    (data / "pyproject.toml").write_text(toml.replace('"0.1.0"', '"0.2.0"'))
    git.commit(mini_repo, "release data 0.2.0")
    git(mini_repo, "tag", "homodyne-data-v0.2.0")
    git(mini_repo, "tag", "homodyne-data-v0.10.0-rc1")  # not a release tag: ignored
    assert check_changelogs.check(mini_repo)[0] == []

    (data / "README.md").write_text("docs only\n")  # not a source: no entry needed
    (data / "src" / "new.py").write_text("y = 1\n")
    (data / "src" / "mod.py").write_text("x = 3\n")
    git.commit(mini_repo, "change data")
    problems, _ = check_changelogs.check(mini_repo)
    assert len(problems) == 1, problems
    assert (
        "homodyne-data/CHANGELOG.md: 2 source file(s) changed since its last release tag "
        "homodyne-data-v0.2.0 (packages/homodyne-data/src/mod.py, "
        "packages/homodyne-data/src/new.py) but [Unreleased] has no entry"
    ) in problems[0]
    assert check_changelogs.main([str(mini_repo)]) == 1

    text = (data / "CHANGELOG.md").read_text()
    (data / "CHANGELOG.md").write_text(
        text.replace("## [Unreleased]\n", "## [Unreleased]\n\n- y.\n")
    )
    assert check_changelogs.check(mini_repo)[0] == []
    assert check_changelogs.main([str(mini_repo)]) == 0


def test_layout_problems_are_reported(mini_repo):
    cl = mini_repo / "packages/homodyne-cmc/CHANGELOG.md"
    cl.write_text(cl.read_text().replace("## [0.1.0] - 2026-11-25", "## 0.1.0 (unreleased)"))
    problems, _ = check_changelogs.check(mini_repo)
    assert any(
        "homodyne-cmc/CHANGELOG.md" in p and "no '## [0.1.0] - YYYY-MM-DD'" in p for p in problems
    )


def test_last_tag_picks_the_highest_version(mini_repo, git):
    pkg = workspace.load_packages(mini_repo)["homodyne-nlsq"]
    assert workspace.last_tag(mini_repo, pkg) is None
    for v in ("0.2.0", "0.10.0", "0.9.3"):
        git(mini_repo, "tag", f"homodyne-nlsq-v{v}")
    assert workspace.last_tag(mini_repo, pkg) == ("homodyne-nlsq-v0.10.0", (0, 10, 0))


def test_version_ranges_and_dependency_order(mini_repo):
    pkgs = workspace.load_packages(mini_repo)
    assert pkgs["homodyne-cli"].requires["homodyne-data"] == "homodyne-data>=0.1.0,<0.2"
    assert workspace.below(pkgs, "homodyne-nlsq") == ["homodyne-physics", "homodyne-data"]
    assert workspace.below(pkgs, "homodyne-physics") == []
    where = pkgs["homodyne-data"].pyproject
    assert workspace.range_allows("homodyne-physics>=0.1.0,<0.2", (0, 1, 7), where)
    assert not workspace.range_allows("homodyne-physics>=0.1.0,<0.2", (0, 2, 0), where)
    assert workspace.range_allows("homodyne-physics>=1.2.0,<2", (1, 9, 0), where)
    assert not workspace.range_allows("homodyne-physics>=1.2.0,<2", (2, 0, 0), where)
    assert workspace.house_range((0, 2, 0)) == ">=0.2.0,<0.3"
    assert workspace.house_range((1, 4, 2)) == ">=1.4.2,<2"
    try:
        workspace.range_allows("homodyne-physics>=0.1", (0, 1, 0), where)
    except workspace.ReleaseError as exc:
        assert "homodyne-data/pyproject.toml" in str(exc) and ">=A.B.C,<D.E" in str(exc)
    else:
        raise AssertionError("a requirement outside the house form must be refused")
    workspace.set_requirement(where, "homodyne-physics>=0.1.0,<0.2", "homodyne-physics>=0.2.0,<0.3")
    assert workspace.load_packages(mini_repo)["homodyne-data"].requires == {
        "homodyne-physics": "homodyne-physics>=0.2.0,<0.3"
    }
