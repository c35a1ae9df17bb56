"""The ``emu4d neurok`` commands on small inputs."""

from __future__ import annotations

import json

from emu4d.cli import main


def test_neurok_data_command_writes_a_dataset(tmp_path) -> None:
    """`emu4d neurok data` writes the sequences and an index naming the split."""
    out = tmp_path / "data"
    code = main(["neurok", "data", "-o", str(out), "--n", "2", "--duration", "0.1",
                 "--cells-per-size", "5", "-q"])  # fmt: skip
    assert code == 0
    index = json.loads((out / "index.json").read_text())
    assert len(index["specs"]) == 2 and (out / "seq_0001.npz").is_file()


def test_neurok_simulate_rejects_a_missing_mesh(tmp_path) -> None:
    """A missing mesh file is reported (exit status 2), nothing is written."""
    code = main(["neurok", "simulate", "--mesh", str(tmp_path / "none.obj"),
                 "-o", str(tmp_path / "sim"), "-q"])  # fmt: skip
    assert code == 2
    assert not (tmp_path / "sim").exists()


def test_neurok_simulate_rejects_a_malformed_vector(tmp_path, capsys) -> None:
    """--velocity with two components is refused by the parser (exit 2) before any work."""
    import pytest

    with pytest.raises(SystemExit) as info:
        main(["neurok", "simulate", "--mesh", "assets/meshes/bunny.obj", "--velocity", "0,-1",
              "-o", str(tmp_path / "sim"), "-q"])  # fmt: skip
    assert info.value.code == 2
    assert "three comma-separated numbers" in capsys.readouterr().err
    assert not (tmp_path / "sim").exists()
