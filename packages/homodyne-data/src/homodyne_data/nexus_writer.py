"""Write NeXus NXxpcs files (``entry/twotime/two_time_corr_func`` with its attributes).

Atomic, with the invented values listed as for the APS writers (:mod:`homodyne_data.writers`).
"""

import os
from pathlib import Path

import h5py
import numpy as np

from .dataset import XPCSData
from .errors import DataConfigError
from .synthetic import Simulation
from .writers import (
    ROI_SIZE,
    Invented,
    as_data,
    atomic_h5,
    nearest_angle,
    roi_grid,
    simulation_attr,
    write_detector,
    write_energy,
)

__all__ = ["write_nxxpcs"]


def _nx_picture(m: np.ndarray, origin: str, populated: str, baseline: int) -> np.ndarray:
    """The stored picture of a full matrix under the NXxpcs attributes (see ``nexus``)."""
    n = m.shape[0]
    pic = np.asarray(m, dtype=np.float64) - (1.0 if baseline == 0 else 0.0)
    if origin == "lower_left":
        pic = pic[::-1].copy()
    if populated != "all":
        r, c = np.indices((n, n))
        diagonal_row = c if origin == "upper_left" else n - 1 - c
        pic[(r > diagonal_row) if populated == "upper_half" else (r < diagonal_row)] = 0.0
    return pic.astype(np.float32)


def write_nxxpcs(
    path: str | os.PathLike,
    sim_or_data: Simulation | XPCSData,
    *,
    storage_mode: str = "one_array_q_first",
    populated_elements: str = "all",
    time_origin_location: str = "upper_left",
    baseline_reference: int = 1,
    overwrite: bool = True,
) -> Path:
    """Write a NeXus NXxpcs file (``entry/twotime/two_time_corr_func`` with its attributes).

    ``storage_mode``: ``one_array_q_first``, ``one_array_q_last`` or ``data_exchange_keys``;
    ``populated_elements``: ``all``, ``upper_half``, ``lower_half``; ``time_origin_location``:
    ``upper_left``, ``lower_left``; ``baseline_reference``: 1 (c2) or 0 (c2 - 1). float32.
    """
    data = as_data(sim_or_data)
    choices = {
        "storage_mode": (
            storage_mode,
            ("one_array_q_first", "one_array_q_last", "data_exchange_keys"),
        ),
        "populated_elements": (populated_elements, ("all", "upper_half", "lower_half")),
        "time_origin_location": (time_origin_location, ("upper_left", "lower_left")),
        "baseline_reference": (baseline_reference, (0, 1)),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise DataConfigError(f"expected one of {allowed}, got {value!r}", dataset=key)
    inv = Invented(data)
    pics = [
        _nx_picture(m, time_origin_location, populated_elements, baseline_reference)
        for m in data.c2
    ]

    def fill(f: h5py.File) -> None:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.create_dataset("definition", data="NXxpcs")
        sim_attr = simulation_attr(sim_or_data)
        if sim_attr:
            f.attrs["homodyne_simulation"] = sim_attr
        tt = entry.create_group("twotime")
        tt.attrs["NX_class"] = "NXdata"
        if storage_mode == "data_exchange_keys":
            corr = tt.create_group("two_time_corr_func")
            for k, pic in enumerate(pics):
                corr.create_dataset(f"roi_{k + 1:05d}", data=pic)
        else:
            stack = np.stack(pics, axis=0 if storage_mode == "one_array_q_first" else -1)
            corr = tt.create_dataset("two_time_corr_func", data=stack)
        for key, (value, _) in choices.items():
            corr.attrs[key] = value
        inst = entry.create_group("instrument")
        inst.attrs["NX_class"] = "NXinstrument"
        masks = inst.create_group("masks")
        masks.attrs["NX_class"] = "NXnote"
        masks.create_dataset("dynamic_q_list", data=np.full(data.n_phi, data.q)).attrs["units"] = (
            "1/A"
        )
        masks.create_dataset("dynamic_phi_list", data=data.phi).attrs["units"] = "deg"
        roi = nearest_angle(*roi_grid(), data.phi) + 1
        masks.create_dataset("dynamic_roi_map", data=roi.astype(np.int32)).attrs["units"] = "au"
        inv.add(
            "entry/instrument/masks/dynamic_roi_map",
            f"{ROI_SIZE} x {ROI_SIZE} map",
            "made up: angles by azimuth, no detector geometry behind it",
        )
        where = "entry/instrument/detector"
        det = inst.create_group("detector")
        det.attrs["NX_class"] = "NXdetector"
        write_detector(det, where, data, data.dt, "not given: = dt", inv)
        write_energy(inst.create_group("incident_beam"), "entry/instrument", inv)
        if isinstance(data.metadata.get("temperature"), int | float):
            sample = entry.create_group("sample")
            sample.create_dataset("temperature", data=float(data.metadata["temperature"]))
        inv.write(f)

    return atomic_h5(path, fill, overwrite)
