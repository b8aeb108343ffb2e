import numpy as np
import pytest

from vkstream.data import DatasetError, read_png, write_png


@pytest.mark.parametrize(
    ("array", "expect"),
    [
        (np.arange(48 * 64 * 3, dtype=np.uint32).reshape(48, 64, 3).astype(np.uint8), "rgb"),
        (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64).astype(np.uint8), "gray8"),
        (np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 21, "gray16"),
    ],
)
def test_round_trip_keeps_values_and_rgb_order(tmp_path, array, expect):
    path = tmp_path / "nested" / "a.png"
    write_png(path, array)
    read = read_png(path, expect=expect)
    assert read.dtype == array.dtype
    np.testing.assert_array_equal(read, array)
    assert [p.name for p in path.parent.iterdir()] == ["a.png"]  # no temporary left behind


def test_rgb_channel_order(tmp_path):
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    write_png(tmp_path / "red.png", red)
    assert read_png(tmp_path / "red.png", expect="rgb")[0, 0].tolist() == [255, 0, 0]


def test_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(DatasetError, match=r"missing.png: file not found"):
        read_png(missing, expect="rgb")

    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(DatasetError, match=r"garbage.png: not a PNG"):
        read_png(garbage, expect="rgb")

    good = tmp_path / "good.png"
    write_png(good, np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    cut = tmp_path / "cut.png"
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"cut.png: truncated PNG"):
        read_png(cut, expect="rgb")

    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(data[:8] + b"\x00" * (len(data) - 20) + data[-12:])
    with pytest.raises(DatasetError, match=r"corrupt.png: PNG data cannot be decoded"):
        read_png(corrupt, expect="rgb")


def test_wrong_kind_is_reported(tmp_path):
    gray = tmp_path / "gray.png"
    write_png(gray, np.zeros((8, 8), np.uint8))
    with pytest.raises(DatasetError, match=r"gray.png: expected an 8-bit RGB image, found a 1-channel 8-bit"):
        read_png(gray, expect="rgb")
    with pytest.raises(DatasetError, match=r"expected a 16-bit single-channel image"):
        read_png(gray, expect="gray16")
    assert read_png(gray, expect="any").shape == (8, 8)


def test_write_rejects_unsupported_arrays(tmp_path):
    with pytest.raises(ValueError, match=r"uint8 or uint16"):
        write_png(tmp_path / "f.png", np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match=r"HxW"):
        write_png(tmp_path / "f.png", np.zeros((4, 4, 2), np.uint8))
