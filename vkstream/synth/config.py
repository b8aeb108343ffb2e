"""Parameters of the synthetic driving world.

Every quantity that shapes a rendered sequence lives here, so a YAML file under
configs/synth/ can describe a whole family of worlds (dense city traffic, empty
country roads, low sun) and `vkstream config show synth` lists every key.
Ranges are sampled per sequence or per object from the generator's seed.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] > value[1]:
        raise ValueError(f"range must be [low, high] with low <= high (got {list(value)})")
    return value


def _nonneg(value: float) -> float:
    if value < 0:
        raise ValueError(f"must be >= 0 (got {value})")
    return value


NonNegative = Annotated[float, AfterValidator(_nonneg)]
Range = Annotated[tuple[NonNegative, NonNegative], AfterValidator(_ordered)]
"""A [low, high] interval sampled uniformly."""
LaneCount = Annotated[int, Field(ge=1, le=3)]
LaneRange = Annotated[tuple[LaneCount, LaneCount], AfterValidator(_ordered)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraConfig(_Section):
    height_m: float = Field(1.65, gt=0.5, le=4.0, description="Camera height above the road.")
    speed_mps: Range = Field((6.0, 12.0), description="Ego speed, drawn per sequence.")
    focal_px_at_1242: float = Field(
        721.5377, gt=50, le=5000, description="Focal length at 1242 px width; scaled with the image width."
    )
    wobble_deg: float = Field(0.6, ge=0, le=10, description="Amplitude of the slow yaw/pitch sway.")
    lateral_sway_m: float = Field(0.25, ge=0, le=1.5, description="Amplitude of the drift within the lane.")


class RoadConfig(_Section):
    lanes_per_direction: LaneRange = Field((1, 2), description="Range of lanes each way.")
    lane_width_m: float = Field(3.5, ge=2.5, le=5.0)
    sidewalk_width_m: Range = (2.0, 4.0)
    verge_width_m: Range = Field((0.0, 6.0), description="Grass between sidewalk and buildings.")
    parking_prob: float = Field(0.5, ge=0, le=1, description="Chance that a side has a parking lane.")


class TrafficConfig(_Section):
    car_gap_m: Range = Field((10.0, 70.0), description="Free gap between consecutive moving cars in a lane.")
    parked_gap_m: Range = Field((0.8, 30.0), description="Free gap between parked cars.")
    speed_ratio: Range = Field(
        (0.6, 1.5), description="Speed of same-direction lanes relative to the ego speed."
    )
    oncoming_speed_mps: Range = (7.0, 14.0)
    pedestrians_per_100m: float = Field(6.0, ge=0, le=100, description="Per sidewalk.")
    standing_prob: float = Field(0.2, ge=0, le=1, description="Share of pedestrians who stand still.")
    walk_speed_mps: Range = (0.8, 1.7)


class SceneryConfig(_Section):
    zone_length_m: Range = Field((30.0, 90.0), description="Length of a stretch of one character.")
    urban_weight: float = Field(0.5, ge=0, description="Relative frequency of building rows.")
    suburban_weight: float = Field(0.3, ge=0, description="Relative frequency of fences, hedges, houses.")
    rural_weight: float = Field(0.2, ge=0, description="Relative frequency of open terrain and trees.")
    building_height_m: Range = (6.0, 24.0)
    building_length_m: Range = (8.0, 30.0)
    tree_spacing_m: Range = (5.0, 16.0)
    pole_spacing_m: Range = (18.0, 40.0)
    sign_prob: float = Field(0.5, ge=0, le=1, description="Chance that a pole carries a traffic sign.")
    traffic_light_prob: float = Field(0.15, ge=0, le=1)
    wall_prob: float = Field(0.25, ge=0, le=1, description="Chance that a suburban stretch has a low wall.")
    backdrop_distance_m: float = Field(
        170.0, ge=60, le=240, description="Distance of the far tree line or skyline that closes the view."
    )


class LightingConfig(_Section):
    sun_elevation_deg: Range = Field((25.0, 70.0), description="Sun height above the horizon.")
    ambient: Range = Field((0.35, 0.6), description="Share of light that does not depend on the surface.")
    exposure: Range = (0.8, 1.2)
    haze_distance_m: Range = Field((300.0, 1200.0), description="Distance at which haze reaches 63 %.")
    noise_std: float = Field(2.0, ge=0, le=20, description="Sensor noise in 8-bit grey levels.")


REFERENCE_ROWS = 375
"""Image height the pixel thresholds of :class:`LabelConfig` refer to (KITTI's)."""


class LabelConfig(_Section):
    min_instance_height_px: float = Field(
        25.0,
        ge=0,
        description="A car or person whose visible box is shorter than this (at 375 image rows, scaled "
        "with the image height) is labelled crowd in that frame: class kept, instance 0, as KITTI marks "
        "objects too small to annotate as DontCare. 0 labels every visible object as an instance.",
    )

    def min_height_at(self, rows: int) -> float:
        """The threshold in pixels for images of ``rows`` rows."""
        return self.min_instance_height_px * rows / REFERENCE_ROWS


class SynthConfig(_Section):
    """The whole synthetic world; every section has defaults that resemble KITTI."""

    camera: CameraConfig = CameraConfig()
    road: RoadConfig = RoadConfig()
    traffic: TrafficConfig = TrafficConfig()
    scenery: SceneryConfig = SceneryConfig()
    lighting: LightingConfig = LightingConfig()
    labels: LabelConfig = LabelConfig()
