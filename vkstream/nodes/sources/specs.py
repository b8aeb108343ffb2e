"""What a stream's frames come from, as config: one model per kind of source, told apart by ``kind``.

Every source config derives from :class:`SourceOptions`; the registry decides which kinds exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator

from vkstream.data.datasets import LAYOUTS
from vkstream.data.frame import Intrinsics

URL_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp")
"""Network streams read through OpenCV's FFmpeg backend."""
MAX_SIDE = 16384

Speed = Annotated[
    float,
    Field(
        ge=0,
        allow_inf_nan=False,
        description="replay speed: 1 = the recorded rate, k = k times faster, 0 = as fast as possible",
    ),
]
Loop = Annotated[bool, Field(description="start again from the first frame at the end (flagged restart)")]


class IntrinsicsSpec(BaseModel):
    """Pinhole intrinsics of a camera, in pixels of its native (not resized) image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fx: float = Field(gt=0, allow_inf_nan=False, description="focal length along x, pixels")
    fy: float = Field(gt=0, allow_inf_nan=False, description="focal length along y, pixels")
    cx: float = Field(allow_inf_nan=False, description="principal point x, pixels")
    cy: float = Field(allow_inf_nan=False, description="principal point y, pixels")

    def to_intrinsics(self) -> Intrinsics:
        return Intrinsics(self.fx, self.fy, self.cx, self.cy)


class SourceOptions(BaseModel):
    """Options every source takes; each source adds its own and a ``kind`` literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="source kind")

    resize: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None,
        description="publish frames at [width, height] (intrinsics and ground truth follow); null: native",
    )

    @field_validator("resize")
    @classmethod
    def _resize_size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and max(value) > MAX_SIDE:
            raise ValueError(f"resize must be at most {MAX_SIDE} pixels a side, got {list(value)}")
        return value


class _Camera(SourceOptions):
    intrinsics: IntrinsicsSpec | None = Field(
        default=None, description="the camera's intrinsics at its native resolution; null: unknown"
    )


class VideoFileSpec(_Camera):
    """A video file, replayed at its own frame rate."""

    kind: Literal["video"] = Field(default="video", description="source kind")
    path: Path = Field(description="video file (any container and codec FFmpeg decodes)")
    speed: Speed = 1.0
    loop: Loop = False


class CameraSpec(_Camera):
    """A local camera through V4L2 (Linux) or the platform's default capture API."""

    kind: Literal["camera"] = Field(default="camera", description="source kind")
    device: int | str = Field(description="camera index (0 = /dev/video0) or device path")
    width: PositiveInt | None = Field(default=None, description="capture width to request; null: driver's")
    height: PositiveInt | None = Field(default=None, description="capture height to request; null: driver's")
    fps: PositiveInt | None = Field(default=None, description="frame rate to request; null: driver's")
    fourcc: str | None = Field(
        default=None, description="pixel format to request, 4 characters, e.g. MJPG or YUYV; null: driver's"
    )

    @field_validator("device")
    @classmethod
    def _device(cls, value: int | str) -> int | str:
        if isinstance(value, str):
            value = value.strip()
            if value.isdigit():
                return int(value)
            if not value:
                raise ValueError("device must be a camera index or a device path such as /dev/video0")
        elif value < 0:
            raise ValueError(f"camera index must be >= 0, got {value}")
        return value

    @field_validator("fourcc")
    @classmethod
    def _fourcc(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 4 or not value.isascii()):
            raise ValueError(f"fourcc must be 4 ASCII characters such as MJPG, got {value!r}")
        return value


class UrlSpec(_Camera):
    """A network stream (RTSP camera, HTTP MJPEG, RTMP, UDP/TCP MPEG-TS) read through FFmpeg."""

    kind: Literal["url"] = Field(default="url", description="source kind")
    url: str = Field(description=f"stream URL; schemes: {', '.join(URL_SCHEMES)}")
    open_timeout_s: float = Field(
        default=5.0, gt=0, le=300, description="give up connecting after this long, seconds"
    )
    read_timeout_s: float = Field(
        default=5.0, gt=0, le=300, description="a stream with no frame for this long is disconnected, seconds"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        check_url(value)
        return value


class ImageFolderSpec(_Camera):
    """A folder of .png/.jpg/.jpeg images replayed in name order at a fixed rate."""

    kind: Literal["images"] = Field(default="images", description="source kind")
    path: Path = Field(description="folder of images; names sort in frame order (frame2 before frame10)")
    rate_hz: float = Field(default=10.0, gt=0, allow_inf_nan=False, description="frame rate at speed 1")
    speed: Speed = 1.0
    loop: Loop = False


class KittiReplaySpec(SourceOptions):
    """One sequence of a dataset in a KITTI layout, replayed at its recorded rate."""

    kind: Literal["kitti"] = Field(default="kitti", description="source kind")
    root: Path = Field(description="dataset root folder")
    layout: str = Field(default="auto", description=f"dataset layout: auto, {', '.join(LAYOUTS)}")
    split: str = Field(default="train", description="split to read (kitti-raw: training/testing or ignored)")
    sequence: str | None = Field(default=None, description="sequence name, quoted; null: the first one")
    speed: Speed = 1.0
    loop: Loop = False
    ground_truth: bool = Field(
        default=False, description="attach the labels and depth of the frame, where the layout has them"
    )
    preload: bool = Field(
        default=False, description="decode every frame into memory at open, so replay costs no disk or CPU"
    )
    label_space: Literal["train_id", "semkitti"] = Field(
        default="train_id",
        description="semkitti-dvps class ids on disk: train_id (vkstream's writers) or semkitti "
        "(the official release)",
    )

    @field_validator("layout")
    @classmethod
    def _layout(cls, value: str) -> str:
        if value != "auto" and value not in LAYOUTS:
            raise ValueError(f"unknown layout {value!r}; expected auto, {', '.join(LAYOUTS)}")
        return value

    @field_validator("split")
    @classmethod
    def _split(cls, value: str) -> str:
        if not value or value in (".", "..") or "/" in value or "\\" in value:
            raise ValueError(f"split must be a folder name such as train, got {value!r}")
        return value

    @field_validator("sequence", mode="before")
    @classmethod
    def _sequence(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(f"quote the sequence name so its leading zeros are kept, e.g. '{value:06d}'")
        return value


def check_url(url: str) -> None:
    """Raise ValueError unless ``url`` is a stream URL with a known scheme and an address."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise ValueError(f"{url!r} is not a URL: expected SCHEME://HOST/... ({', '.join(URL_SCHEMES)})")
    if scheme.lower() not in URL_SCHEMES:
        raise ValueError(f"unsupported URL scheme {scheme!r} in {url!r}; expected {', '.join(URL_SCHEMES)}")
    if not urlsplit(url).netloc:
        raise ValueError(f"URL {url!r} has no host")
