"""Dataset generation with mpm (neurok.data): reproducible from its seed, split by shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurok import DatasetError, generate_dataset, load_index
from neurok.data import CONDITIONS, FAMILIES, sample_specs, simulate_sequence, split_by_shape


def test_specs_cover_families_conditions_and_split_by_shape() -> None:
    """24 specs use every shape family and condition; the split puts each shape instance on
    one side only, and holds out about 20 % of the shapes."""
    specs = sample_specs(24, seed=5)
    assert {s.shape.family for s in specs} == set(FAMILIES)
    assert {s.condition["kind"] for s in specs} == set(CONDITIONS)
    train, held = split_by_shape(specs, 0.2, seed=5)
    shapes_train = {specs[i].shape.shape_id for i in train}
    shapes_held = {specs[i].shape.shape_id for i in held}
    assert not shapes_train & shapes_held
    assert len(shapes_held) == round(0.2 * 12)
    assert sorted(train + held) == list(range(24))


def test_sequence_is_reproducible_from_its_seed() -> None:
    """The same spec simulates to bitwise identical arrays; energies are finite and the
    object falls (gravity energy decreases) in a drop."""
    spec = sample_specs(1, seed=11)[0]
    assert spec.condition["kind"] == "drop"
    a = simulate_sequence(spec, duration=0.2, cells_per_size=6, num_points=64)
    b = simulate_sequence(spec, duration=0.2, cells_per_size=6, num_points=64)
    for name in ("vertices", "points", "velocities", "rest_points"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.num_frames == 7 and a.points.shape == (7, 64, 3)
    assert np.isfinite(a.energies["elastic"]).all()
    assert a.energies["gravity"][-1] < a.energies["gravity"][0]


def test_generate_dataset_writes_index_last_and_resumes(tmp_path, monkeypatch) -> None:
    """A 2-sequence dataset has its files and an index with the split; generating again
    reuses the finished sequences (no simulation), unless the duration or frame rate
    changed; a bad count, duration, held-out fraction, resolution or frame rate, or a
    missing index is a DatasetError."""
    import neurok.data as data

    original = data.simulate_sequence

    def coarse(spec, **kw):
        return original(spec, num_points=32, **kw)

    monkeypatch.setattr(data, "simulate_sequence", coarse)
    index = generate_dataset(tmp_path, 2, seed=3, duration=0.1, cells_per_size=5, progress=False)
    assert index.path(0).is_file() and index.path(1).is_file()
    saved = json.loads((tmp_path / "index.json").read_text())
    assert sorted(saved["train"] + saved["heldout"]) == [0, 1]
    assert index.load(1).spec == index.specs[1]
    monkeypatch.setattr(data, "simulate_sequence", lambda *a, **k: pytest.fail("re-simulated"))
    generate_dataset(tmp_path, 2, seed=3, duration=0.1, cells_per_size=5, progress=False)
    # a longer duration or another frame rate re-simulates (the files were kept before, and
    # the index then described clips of another length)
    rerun: list[dict] = []
    monkeypatch.setattr(data, "simulate_sequence",
                        lambda spec, **kw: rerun.append(kw) or coarse(spec, **kw))  # fmt: skip
    generate_dataset(tmp_path, 2, seed=3, duration=0.2, cells_per_size=5, progress=False)
    assert len(rerun) == 2 and load_index(tmp_path).load(0).num_frames == 7
    rerun.clear()
    generate_dataset(tmp_path, 2, seed=3, duration=0.2, fps=20.0, cells_per_size=5,
                     progress=False)  # fmt: skip
    assert len(rerun) == 2
    with pytest.raises(DatasetError, match=">= 1"):
        generate_dataset(tmp_path, 0)
    for setting, value in (("duration", 0.0), ("heldout_fraction", 1.5), ("cells_per_size", 0.0),
                           ("fps", float("nan"))):  # fmt: skip
        with pytest.raises(DatasetError, match=f"dataset {setting} must be"):
            generate_dataset(tmp_path / "never", 2, **{setting: value})
    assert not (tmp_path / "never").exists()  # refused before anything was written
    with pytest.raises(DatasetError, match="emu4d neurok data"):
        load_index(tmp_path / "nowhere")
