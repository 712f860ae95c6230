from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner

from melodyrnn.cli import main
from melodyrnn.encodings import registry


@pytest.fixture()
def broken_plugin(monkeypatch):
    ep = EntryPoint(name="broken", value="no_such_module_for_melodyrnn:Encoding",
                    group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == ep.group else [])


def test_plugins_lists_built_ins_and_reports_a_broken_plugin_by_name(broken_plugin):
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["melodyrnn.encodings\tmelody\tbuilt-in",
                         "melodyrnn.encodings\tperformance\tbuilt-in"]
    assert lines[2].startswith("melodyrnn.encodings\tbroken\t")
    assert "FAILED: ModuleNotFoundError" in lines[2]
    assert "1 plugin(s) failed to load" in result.stderr


def test_a_broken_plugin_leaves_the_rest_working(broken_plugin):
    assert registry.get_encoding("melody").name == "melody"  # built-ins never load plugins
    with pytest.warns(UserWarning, match="'broken'.*failed to import"):
        with pytest.raises(ValueError, match="unknown encoding 'nope'; choose from melody, performance"):
            registry.get_encoding("nope")
