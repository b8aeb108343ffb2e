import dataclasses

import numpy as np
import pytest

from vkstream.data import (
    Intrinsics,
    KittiStepWriter,
    SemKittiDvpsDataset,
    SemKittiDvpsWriter,
    make_writer,
    quantize_depth,
)

K = Intrinsics(700.0, 700.0, 32.0, 24.0)


def test_quantize_depth_is_exactly_representable():
    depth = np.random.default_rng(0).uniform(0, 255.99, (48, 64))
    q = quantize_depth(depth)
    assert q.dtype == np.float32
    assert np.abs(q - depth).max() <= 1 / 512 + 1e-6
    np.testing.assert_array_equal(q * 256, np.rint(q * 256))


def test_make_writer():
    assert isinstance(make_writer("kitti-step", "/tmp/x"), KittiStepWriter)
    assert isinstance(make_writer("semkitti-dvps", "/tmp/x", "val"), SemKittiDvpsWriter)
    with pytest.raises(ValueError, match="no writer for layout 'kitti-raw'"):
        make_writer("kitti-raw", "/tmp/x")


def _replace(frame, **changes):
    return dataclasses.replace(frame, **changes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: _replace(f, sequence="seq-a"), "sequence name must be numeric"),
        (lambda f: _replace(f, index=-1), "non-negative integer"),
        (lambda f: _replace(f, image=f.image.astype(np.float32)), "image must be HxWx3 uint8"),
        (lambda f: _replace(f, image=f.image[..., :2]), "image must be HxWx3 uint8"),
        (lambda f: _replace(f, semantic=f.semantic.astype(np.int32)), "semantic must be HxW uint8"),
        (lambda f: _replace(f, semantic=np.full_like(f.semantic, 19)), r"unknown class ids \[19\]"),
        (
            lambda f: _replace(f, instance=f.instance.astype(np.int64) + 65536),
            "instance ids must lie in 0..65535",
        ),
        (
            lambda f: _replace(f, instance=f.instance.astype(np.int32) - 1),
            "instance ids must lie in 0..65535",
        ),
        (lambda f: _replace(f, instance=f.instance.astype(np.float32)), "instance must be an HxW integer"),
        (lambda f: _replace(f, semantic=None), "instance ids need semantic labels"),
        (lambda f: _replace(f, depth=np.where(f.depth > 1, np.nan, f.depth)), "NaN"),
        (lambda f: _replace(f, depth=f.depth - 1), "negative"),
        (lambda f: _replace(f, depth=f.depth + 200), "exceeds the encodable"),
        (lambda f: _replace(f, depth=f.depth.astype(np.uint16)), "depth must be a float array"),
        (lambda f: _replace(f, depth=f.depth[:, :-1]), "arrays differ in size"),
        (lambda f: _replace(f, image=None, semantic=None, instance=None, depth=None), "nothing to write"),
    ],
)
@pytest.mark.parametrize("writer_cls", [KittiStepWriter, SemKittiDvpsWriter])
def test_writer_rejects_bad_frames(tmp_path, make_frame, writer_cls, change, message):
    frame = change(make_frame(0, "1", 0, intrinsics=K))
    with pytest.raises(ValueError, match=message):
        writer_cls(tmp_path).write(frame)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_dvps_depth_needs_intrinsics(tmp_path, make_frame):
    with pytest.raises(ValueError, match="depth needs intrinsics"):
        SemKittiDvpsWriter(tmp_path).write(make_frame(0, "1", 0))
    assert not any(tmp_path.rglob("*.png"))


def test_dvps_warns_that_fy_is_not_stored(tmp_path, make_frame, caplog):
    writer = SemKittiDvpsWriter(tmp_path)
    writer.write(make_frame(0, "1", 0, intrinsics=Intrinsics(700.0, 701.0, 32.0, 24.0)))
    writer.write(make_frame(0, "1", 1, intrinsics=Intrinsics(700.0, 701.0, 32.0, 24.0)))
    assert caplog.text.count("stores fx only") == 1
    assert {f.intrinsics for f in SemKittiDvpsDataset(tmp_path)} == {K}


def test_kitti_step_writes_calib_once_per_sequence(tmp_path, make_frame):
    writer = KittiStepWriter(tmp_path)
    writer.write(make_frame(0, "2", 0))
    assert not (tmp_path / "calib").exists()
    writer.write(make_frame(0, "2", 1, intrinsics=K))
    writer.write(make_frame(0, "2", 2, intrinsics=Intrinsics(1.0, 1.0, 1.0, 1.0)))
    assert (tmp_path / "calib/train/0002.txt").read_text().split()[1] == "7.000000000000e+02"


def test_instance_defaults_to_zero(tmp_path, make_frame):
    frame = make_frame(0, "1", 0, depth=False)
    frame.instance = None
    SemKittiDvpsWriter(tmp_path).write(frame)
    (read,) = SemKittiDvpsDataset(tmp_path)
    assert read.instance.dtype == np.uint16 and not read.instance.any()
