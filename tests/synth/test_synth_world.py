"""The synthetic driving world, rendered in memory: labels, depth and geometry agree exactly.

Every check compares what the renderer writes into a frame (labels, depth, intrinsics) with the
3D world it claims to show (the scene tables and the camera trajectory), or with an independent
numpy ray cast of that world, so a renderer that drops, mislabels or misplaces anything fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from pydantic import ValidationError

from vkstream.data import TrainId
from vkstream.synth import SequenceRenderer, SynthConfig
from vkstream.synth.scene import N_SPECIAL, Scene, Shape, Special

W, H = 320, 96
FRAMES = 60
DT = 0.1
SEEDS = tuple(range(8))
EVERY_OBJECT = {"min_instance_height_px": 0}
"""Label every visible car and person as an instance: these tests check the world, not the labelling
policy (tests/synth/test_synth_labels.py does)."""
DENSE = SynthConfig(traffic={"pedestrians_per_100m": 30}, labels=EVERY_OBJECT)
NEAR = 0.3
"""The renderer's near plane: nothing closer than this is drawn."""

GROUND = (TrainId.ROAD, TrainId.SIDEWALK, TrainId.TERRAIN)
THINGS = (TrainId.PERSON, TrainId.CAR)
SCENERY = (
    TrainId.BUILDING,
    TrainId.WALL,
    TrainId.FENCE,
    TrainId.POLE,
    TrainId.TRAFFIC_LIGHT,
    TrainId.TRAFFIC_SIGN,
    TrainId.VEGETATION,
)
"""Stuff classes made of primitives (the ground bands and the sky are not)."""


def tolerance(depth: np.ndarray | float) -> np.ndarray | float:
    """How far a back-projected pixel may sit from the surface it shows, in metres.

    Depth is stored on a 1/256 m grid (under 2 mm along the ray); the ray caster works in float32,
    whose ray/ellipsoid intersection loses about 1e-4 of the distance (1.7 cm at 150 m).
    """
    return 0.02 + 1e-4 * depth


@dataclass
class Sequence:
    seed: int
    renderer: SequenceRenderer
    frames: list = field(default_factory=list)

    @property
    def scene(self) -> Scene:
        return self.renderer.scene

    def visible(self, min_pixels: int = 1) -> dict[int, list[int]]:
        """Instance id -> frame indices where it covers at least `min_pixels` pixels."""
        seen: dict[int, list[int]] = {}
        for frame in self.frames:
            counts = np.bincount(frame.instance.ravel())
            for iid in np.flatnonzero(counts >= min_pixels):
                if iid > 0:
                    seen.setdefault(int(iid), []).append(frame.index)
        return seen


def render_sequence(seed: int, config: SynthConfig | None = None, frames: int = FRAMES) -> Sequence:
    renderer = SequenceRenderer(seed, 0, frames, (W, H), config or SynthConfig(labels=EVERY_OBJECT))
    return Sequence(seed, renderer, [renderer.render(i) for i in range(frames)])


@pytest.fixture(scope="module")
def world() -> dict[int, Sequence]:
    """Eight default sequences of 6 s each, rendered once."""
    return {seed: render_sequence(seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def crowded() -> Sequence:
    """Dense pedestrians: many people pass behind one another and behind parked cars."""
    return render_sequence(3, DENSE)


def geometry_sequences(world: dict[int, Sequence], crowded: Sequence) -> list[Sequence]:
    return [world[0], world[1], world[2], crowded]


# --- helpers -----------------------------------------------------------------------------------


def back_project(frame, pose) -> tuple[np.ndarray, np.ndarray]:
    """World points (H, W, 3) of every pixel (NaN on sky) and the camera-frame ray directions."""
    k = frame.intrinsics
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([(cols - k.cx) / k.fx, (rows - k.cy) / k.fy, np.ones_like(cols)], -1)
    depth = np.where(frame.depth > 0, frame.depth.astype(np.float64), np.nan)
    points = pose.origin + (rays * depth[..., None]) @ pose.rotation.T
    return points, rays


def primitives_of(scene: Scene, instance: int) -> np.ndarray:
    return np.flatnonzero(scene.instance[N_SPECIAL:] == instance)


def box_distance(points: np.ndarray, centres: np.ndarray, halves: np.ndarray) -> np.ndarray:
    """Distance of each point (N, 3) to the union of axis-aligned boxes (M, 3); 0 inside."""
    if len(centres) == 0:
        return np.full(len(points), np.inf)
    outside = np.maximum(np.abs(points[:, None, :] - centres[None]) - halves[None], 0.0)
    return np.sqrt((outside**2).sum(-1)).min(1)


def agent_of(scene: Scene, instance: int) -> int:
    agents = set(scene.agent[primitives_of(scene, instance)].tolist())
    assert len(agents) == 1, f"instance {instance} is carried by agents {agents}"
    return agents.pop()


def box_hits(
    origin: np.ndarray, directions: np.ndarray, centre: np.ndarray, half: np.ndarray, shape: int
) -> np.ndarray:
    """Ray parameter (= camera z-depth) where each ray enters a box or ellipsoid; inf for a miss."""
    rel = centre - origin
    with np.errstate(divide="ignore", invalid="ignore"):
        if shape == Shape.BOX:
            inv = 1.0 / directions
            t1, t2 = (rel - half) * inv, (rel + half) * inv
            entry = np.nanmax(np.minimum(t1, t2), -1)
            exit_ = np.nanmin(np.maximum(t1, t2), -1)
            hit = exit_ > entry
        else:
            e, s = directions / half, rel / half
            a = (e * e).sum(-1)
            hb = (e * s).sum(-1)
            disc = hb * hb - a * ((s * s).sum() - 1.0)
            entry = (hb - np.sqrt(np.maximum(disc, 0.0))) / a
            hit = disc > 0
    return np.where(hit & (entry > NEAR), entry, np.inf)


def screen_window(pose, centre: np.ndarray, half: np.ndarray, k) -> tuple[slice, slice] | None:
    """Pixel rows and columns that can see a box, from its projected corners; None when off screen.

    Only a speed-up for the independent ray cast: a box reaching behind the camera gets the whole frame.
    """
    signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
    corners = (centre + signs * half - pose.origin) @ pose.rotation
    if (corners[:, 2] <= NEAR).all():
        return None
    if (corners[:, 2] <= NEAR).any():
        return (slice(0, H), slice(0, W))
    u = k.fx * corners[:, 0] / corners[:, 2] + k.cx
    v = k.fy * corners[:, 1] / corners[:, 2] + k.cy
    cols = slice(max(int(np.floor(u.min())) - 1, 0), min(int(np.ceil(u.max())) + 1, W))
    rows = slice(max(int(np.floor(v.min())) - 1, 0), min(int(np.ceil(v.max())) + 1, H))
    if cols.start >= cols.stop or rows.start >= rows.stop:
        return None
    return (rows, cols)


# --- 1. label space and depth ------------------------------------------------------------------


def test_only_train_ids_sky_exactly_where_depth_is_missing(world, crowded):
    for seq in [*world.values(), crowded]:
        for frame in seq.frames:
            assert frame.image.shape == (H, W, 3) and frame.image.dtype == np.uint8
            assert frame.semantic.shape == (H, W) and frame.semantic.dtype == np.uint8
            assert frame.instance.shape == (H, W) and frame.instance.dtype == np.uint16
            assert frame.depth.shape == (H, W) and frame.depth.dtype == np.float32
            assert frame.semantic.max() <= 18, "a label outside the 19 train ids (void?)"
            sky = frame.semantic == TrainId.SKY
            np.testing.assert_array_equal(sky, frame.depth == 0)
            assert np.isfinite(frame.depth).all()
            assert (frame.depth[~sky] >= NEAR - 1 / 256).all()
            assert frame.depth.max() <= 250.0
            # Depth is stored on the 1/256 m grid of depth PNGs.
            np.testing.assert_array_equal(np.rint(frame.depth * 256) / 256, frame.depth)
            assert frame.timestamp == pytest.approx(frame.index * DT)


def test_sky_is_above_the_horizon_and_ground_below(world):
    for seq in world.values():
        for frame in seq.frames[::10]:
            _, rays = back_project(frame, seq.scene.trajectory.pose(frame.timestamp))
            world_dir = rays @ seq.scene.trajectory.pose(frame.timestamp).rotation.T
            sky = frame.semantic == TrainId.SKY
            assert (world_dir[sky][:, 1] > 0).all(), "sky seen below the horizon"
            ground = np.isin(frame.semantic, GROUND)
            assert (world_dir[ground][:, 1] < 0).all(), "ground seen above the horizon"


# --- 2. instance ids ---------------------------------------------------------------------------


def test_instances_only_on_things_and_every_thing_pixel_has_one(world, crowded):
    for seq in [*world.values(), crowded]:
        tracked = seq.renderer.tracked_classes
        assert tracked, "no tracked objects in the sequence"
        assert set(tracked.values()) <= set(THINGS)
        assert set(tracked.values()) == set(THINGS)
        for frame in seq.frames:
            things = np.isin(frame.semantic, THINGS)
            np.testing.assert_array_equal(frame.instance > 0, things)
            ids = np.unique(frame.instance[things])
            for iid in ids:
                classes = np.unique(frame.semantic[frame.instance == iid])
                assert classes.tolist() == [tracked[int(iid)]], (frame.index, iid, classes)


def test_tracked_classes_match_the_scene_tables(world):
    for seq in world.values():
        scene = seq.scene
        for iid, cls in seq.renderer.tracked_classes.items():
            prims = primitives_of(scene, iid)
            assert len(prims) > 0, f"tracked id {iid} has no geometry"
            assert set(scene.semantic[N_SPECIAL + prims].tolist()) == {int(cls)}
            assert (scene.agent[prims] >= 0).all(), "tracked objects are agents"
        # Stuff never carries an instance id.
        stuff = ~np.isin(scene.semantic, THINGS)
        assert (scene.instance[stuff] == 0).all()


# --- 3. exact geometry -------------------------------------------------------------------------


def test_ground_pixels_lie_on_the_road_plane_in_their_band(world, crowded):
    for seq in geometry_sequences(world, crowded):
        scene = seq.scene
        edges = scene.band_edges.astype(np.float64)
        for frame in seq.frames:
            points, _ = back_project(frame, scene.trajectory.pose(frame.timestamp))
            for cls in GROUND:
                mask = frame.semantic == cls
                if not mask.any():
                    continue
                p = points[mask]
                tol = tolerance(frame.depth[mask])
                assert (np.abs(p[:, 1]) <= tol).all(), (
                    f"{TrainId(cls).name} off the ground by {np.abs(p[:, 1]).max():.3f} m "
                    f"in frame {frame.index}"
                )
                x = p[:, 0]
                if cls == TrainId.ROAD:
                    inside = (x >= edges[1] - tol) & (x <= edges[2] + tol)
                elif cls == TrainId.SIDEWALK:
                    inside = ((x >= edges[0] - tol) & (x <= edges[1] + tol)) | (
                        (x >= edges[2] - tol) & (x <= edges[3] + tol)
                    )
                else:
                    inside = (x <= edges[0] + tol) | (x >= edges[3] - tol)
                assert inside.all(), f"{TrainId(cls).name} outside its band in frame {frame.index}"


def test_thing_pixels_lie_on_their_own_object(world, crowded):
    checked = 0
    for seq in geometry_sequences(world, crowded):
        scene = seq.scene
        for frame in seq.frames:
            centre, half = scene.primitive_boxes(frame.timestamp)
            points, _ = back_project(frame, scene.trajectory.pose(frame.timestamp))
            for iid in np.unique(frame.instance[frame.instance > 0]):
                mask = frame.instance == iid
                prims = primitives_of(scene, int(iid))
                dist = box_distance(points[mask], centre[prims], half[prims])
                worst = int(np.argmax(dist - tolerance(frame.depth[mask])))
                assert dist[worst] <= tolerance(frame.depth[mask][worst]), (
                    f"seed {seq.seed} frame {frame.index}: a pixel of instance {iid} "
                    f"lies {dist[worst]:.3f} m from its object at depth {frame.depth[mask][worst]:.1f} m"
                )
                checked += 1
    assert checked > 500


def test_stuff_pixels_lie_on_geometry_of_their_class(world, crowded):
    for seq in geometry_sequences(world, crowded):
        scene = seq.scene
        backdrop_class = scene.semantic[Special.BACKDROP]
        assert backdrop_class in (TrainId.BUILDING, TrainId.VEGETATION)
        prim_class = scene.semantic[N_SPECIAL:]
        for frame in seq.frames[::4]:
            pose = scene.trajectory.pose(frame.timestamp)
            centre, half = scene.primitive_boxes(frame.timestamp)
            points, _ = back_project(frame, pose)
            near = np.abs(centre[:, 2] - pose.origin[2]) < half[:, 2] + scene.backdrop_distance + 40
            for cls in SCENERY:
                mask = frame.semantic == cls
                if not mask.any():
                    continue
                prims = np.flatnonzero((prim_class == cls) & near)
                dist = box_distance(points[mask], centre[prims], half[prims])
                if cls == backdrop_class:
                    plane = pose.origin[2] + scene.backdrop_distance
                    dist = np.minimum(dist, np.abs(points[mask][:, 2] - plane))
                tol = tolerance(frame.depth[mask])
                assert (dist <= tol).all(), (
                    f"{TrainId(cls).name} pixel {dist.max():.3f} m off any {TrainId(cls).name} "
                    f"primitive in frame {frame.index}"
                )


def test_objects_are_hidden_only_by_nearer_surfaces(world, crowded):
    """An independent ray cast: where a car or person is surely hit, the frame shows it or something nearer.

    This is what makes an object's absence from a frame (occlusion, leaving the view) legitimate.
    """
    hits = 0
    for seq in (world[0], crowded):
        scene = seq.scene
        k = seq.renderer.intrinsics
        rows, cols = np.mgrid[0:H, 0:W].astype(np.float64)
        cam_rays = np.stack([(cols - k.cx) / k.fx, (rows - k.cy) / k.fy, np.ones_like(cols)], -1)
        things = np.flatnonzero(np.isin(scene.semantic[N_SPECIAL:], THINGS))
        for frame in seq.frames[::2]:
            pose = scene.trajectory.pose(frame.timestamp)
            centre, half = scene.primitive_boxes(frame.timestamp)
            rays = cam_rays @ pose.rotation.T
            shown = np.where(frame.depth > 0, frame.depth, np.inf)
            ahead = np.abs(centre[things, 2] - pose.origin[2]) < scene.backdrop_distance
            for p in things[ahead]:
                dist = float(np.linalg.norm(centre[p] - pose.origin))
                # Shrink the object a little so only rays well inside its outline count.
                margin = 0.01 + 2e-4 * dist
                inner = np.maximum(half[p].astype(np.float64) - margin, 1e-3)
                window = screen_window(pose, centre[p].astype(np.float64), inner, k)
                if window is None:
                    continue
                t = box_hits(
                    pose.origin, rays[window], centre[p].astype(np.float64), inner, int(scene.shape[p])
                )
                sure = np.isfinite(t)
                if not sure.any():
                    continue
                hits += int(sure.sum())
                seen = shown[window][sure]
                excess = seen - t[sure]
                assert (excess <= tolerance(t[sure])).all(), (
                    f"frame {frame.index}: {TrainId(scene.semantic[N_SPECIAL + p]).name} "
                    f"{scene.instance[N_SPECIAL + p]} should be visible at "
                    f"{t[sure][np.argmax(excess)]:.2f} m "
                    f"but the frame shows {seen[np.argmax(excess)]:.2f} m"
                )
    assert hits > 1000


# --- 4. persistent ids through occlusion -------------------------------------------------------


def test_objects_keep_their_id_when_they_reappear(world, crowded):
    reappeared = {TrainId.CAR: 0, TrainId.PERSON: 0}
    for seq in [world[0], world[1], crowded]:
        scene = seq.scene
        tracked = seq.renderer.tracked_classes
        for iid, frames in seq.visible().items():
            gaps = np.flatnonzero(np.diff(frames) > 1)
            if len(gaps) == 0:
                continue
            reappeared[tracked[iid]] += 1
            before, after = frames[gaps[0]], frames[gaps[0] + 1]
            prims = primitives_of(scene, iid)
            lateral = []
            for index in (before, after):
                frame = seq.frames[index]
                mask = frame.instance == iid
                points, _ = back_project(frame, scene.trajectory.pose(frame.timestamp))
                centre, half = scene.primitive_boxes(frame.timestamp)
                dist = box_distance(points[mask], centre[prims], half[prims])
                assert (dist <= tolerance(frame.depth[mask])).all(), (
                    f"instance {iid} in frame {index} is not on its object"
                )
                lateral.append(float(np.median(points[mask][:, 0])))
            # Without the scene tables: the same object is still in the same lane or on the same sidewalk.
            width = 2.0 if tracked[iid] == TrainId.CAR else 0.8
            assert abs(lateral[0] - lateral[1]) <= width, (iid, before, after, lateral)
    assert reappeared[TrainId.CAR] > 0, "no car is hidden and seen again in the fixture"
    assert reappeared[TrainId.PERSON] > 0, "no person is hidden and seen again in the fixture"


# --- 5. motion ---------------------------------------------------------------------------------


def test_visible_cars_move_plausibly_between_frames(world):
    bound = 40.0 * DT + 1.0
    compared = 0
    for seq in world.values():
        tracked = seq.renderer.tracked_classes
        previous: dict[int, float] = {}
        for frame in seq.frames:
            counts = np.bincount(frame.instance.ravel())
            current = {
                int(iid): float(np.median(frame.depth[frame.instance == iid]))
                for iid in np.flatnonzero(counts >= 30)
                if iid > 0 and tracked[int(iid)] == TrainId.CAR
            }
            for iid, depth in current.items():
                if iid in previous:
                    compared += 1
                    assert abs(depth - previous[iid]) <= bound, (
                        f"car {iid} jumped from {previous[iid]:.2f} m to {depth:.2f} m at frame {frame.index}"
                    )
            previous = current
    assert compared > 200


def test_agents_move_at_constant_speed_along_the_road(world):
    for seq in world.values():
        scene = seq.scene
        moving = scene.agent >= 0
        c0, h0 = scene.primitive_boxes(0.0)
        c1, h1 = scene.primitive_boxes(1.0)
        np.testing.assert_array_equal(h0, h1)
        static = ~moving
        np.testing.assert_array_equal(c0[static], c1[static])
        cars = np.isin(scene.semantic[N_SPECIAL:], [TrainId.CAR]) & moving
        # Car bodies do not swing: they advance by exactly their agent's speed, sideways not at all.
        np.testing.assert_allclose(c1[cars, 2] - c0[cars, 2], scene.agent_speed[scene.agent[cars]], atol=1e-4)
        np.testing.assert_allclose(c1[moving, 0], c0[moving, 0])
        np.testing.assert_allclose(c1[moving, 1], c0[moving, 1])


# --- 6. determinism ----------------------------------------------------------------------------


def test_a_frame_does_not_depend_on_render_order(world):
    seq = world[0]
    for index in (37, 0, 59):
        fresh = SequenceRenderer(0, 0, FRAMES, (W, H), SynthConfig(labels=EVERY_OBJECT)).render(index)
        again = seq.renderer.render(index)
        for frame in (fresh, again):
            for name in ("image", "semantic", "instance", "depth"):
                np.testing.assert_array_equal(getattr(frame, name), getattr(seq.frames[index], name), name)
            assert frame.intrinsics == seq.frames[index].intrinsics


def test_seeds_and_sequence_indices_give_different_worlds(world):
    images = [world[seed].frames[0].image for seed in SEEDS]
    for a in range(len(images)):
        for b in range(a + 1, len(images)):
            assert not np.array_equal(images[a], images[b])
    other = SequenceRenderer(0, 1, FRAMES, (W, H)).render(0)
    assert not np.array_equal(other.image, world[0].frames[0].image)
    assert not np.array_equal(other.semantic, world[0].frames[0].semantic)


def test_render_rejects_frames_outside_the_sequence(world):
    with pytest.raises(IndexError):
        world[0].renderer.render(FRAMES)
    with pytest.raises(IndexError):
        world[0].renderer.render(-1)


# --- 7. variation ------------------------------------------------------------------------------


def first_views(seq: Sequence, cls: TrainId, min_pixels: int) -> dict[int, tuple[int, np.ndarray]]:
    """Instance -> (frame index, mask) of its first view with at least `min_pixels` pixels."""
    tracked = seq.renderer.tracked_classes
    views: dict[int, tuple[int, np.ndarray]] = {}
    for frame in seq.frames:
        counts = np.bincount(frame.instance.ravel())
        for iid in np.flatnonzero(counts >= min_pixels):
            if iid > 0 and int(iid) not in views and tracked[int(iid)] == cls:
                views[int(iid)] = (frame.index, frame.instance == iid)
    return views


def test_cars_and_roads_vary_in_colour(world):
    car_means, car_stds = [], []
    for seq in world.values():
        for index, mask in first_views(seq, TrainId.CAR, 50).values():
            pixels = seq.frames[index].image[mask].astype(np.float64)
            car_means.append(pixels.mean(0))
            car_stds.append(pixels.std(0).max())
    car_means = np.array(car_means)
    assert len(car_means) >= 40
    assert car_means.std(0).mean() > 20, f"car colours hardly vary: {car_means.std(0)}"
    # Cars are textured and shaded, not flat fills: most views vary well beyond the sensor noise.
    assert np.median(car_stds) > 10
    assert np.mean(np.array(car_stds) > 3) > 0.9

    road_means = np.array(
        [
            np.mean([f.image[f.semantic == TrainId.ROAD].mean(0) for f in seq.frames[::10]], 0)
            for seq in world.values()
        ]
    )
    assert road_means.std(0).mean() > 3, f"the road looks the same in every sequence: {road_means}"
    distance = np.abs(road_means[:, None] - road_means[None]).max(-1)
    assert (distance[~np.eye(len(road_means), dtype=bool)] > 1).all()


def test_cars_are_textured_even_without_sensor_noise():
    seq = render_sequence(1, SynthConfig(lighting={"noise_std": 0.0}, labels=EVERY_OBJECT), frames=40)
    views = first_views(seq, TrainId.CAR, 30)
    assert len(views) >= 5
    for iid, (index, mask) in views.items():
        pixels = seq.frames[index].image[mask]
        colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
        assert colours > 4, f"car {iid} is drawn in {colours} flat colours"
        assert pixels.astype(np.float64).std(0).max() > 1.0


# --- 8. camera ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(W, H), (248, 75), (1242, 375)])
def test_intrinsics_are_kitti_like(size):
    width, height = size
    renderer = SequenceRenderer(4, 0, 2, size)
    k = renderer.intrinsics
    assert k.fx == pytest.approx(721.5377 * width / 1242, rel=1e-12)
    assert k.fy == k.fx
    assert (k.cx, k.cy) == (width / 2, height / 2)
    if width < 1000:
        frame = renderer.render(1)
        assert frame.intrinsics == k
        assert frame.image.shape == (height, width, 3)


def test_the_camera_drives_forward_level_in_its_lane(world):
    config = SynthConfig()
    low, high = config.camera.speed_mps
    for seq in world.values():
        poses = [seq.scene.trajectory.pose(f.timestamp) for f in seq.frames]
        z = np.array([p.origin[2] for p in poses])
        speed = np.diff(z) / DT
        assert (speed > 0).all()
        assert (speed > 0.8 * low).all() and (speed < 1.2 * high).all()
        for pose in poses:
            assert pose.origin[1] == pytest.approx(config.camera.height_m)
            # World-from-camera: camera y (down) is world -y, camera z (forward) is about world +z.
            assert pose.rotation[:, 1] @ np.array([0.0, -1.0, 0.0]) > 0.99
            assert pose.rotation[:, 2] @ np.array([0.0, 0.0, 1.0]) > 0.99
            np.testing.assert_allclose(pose.rotation.T @ pose.rotation, np.eye(3), atol=1e-12)
        x = np.array([p.origin[0] for p in poses])
        assert x.max() - x.min() < 2 * config.camera.lateral_sway_m + 1e-9
        # The camera rides in a lane of the road, not on the kerb.
        edges = seq.scene.band_edges
        assert ((x > edges[1] + 1.0) & (x < edges[2] - 1.0)).all()


def test_camera_height_comes_from_the_config():
    renderer = SequenceRenderer(2, 0, 3, (W, H), SynthConfig(camera={"height_m": 2.5}))
    frame = renderer.render(2)
    assert renderer.scene.trajectory.pose(0.2).origin[1] == pytest.approx(2.5)
    points, _ = back_project(frame, renderer.scene.trajectory.pose(0.2))
    road = frame.semantic == TrainId.ROAD
    assert road.any()
    assert (np.abs(points[road][:, 1]) <= tolerance(frame.depth[road])).all()


# --- 9. scenery -------------------------------------------------------------------------------


def test_every_kind_of_scenery_appears(world):
    seen: set[int] = set()
    for seq in world.values():
        for frame in seq.frames:
            seen.update(np.unique(frame.semantic).tolist())
    promised = {*GROUND, *SCENERY, TrainId.SKY, *THINGS}
    missing = sorted(TrainId(c).name for c in promised - seen)
    assert not missing, f"never rendered in {len(SEEDS)} sequences: {missing}"


def test_every_frame_shows_road_and_sky(world):
    for seq in world.values():
        for frame in seq.frames:
            assert (frame.semantic == TrainId.ROAD).mean() > 0.05
            assert (frame.semantic == TrainId.SKY).any()


# --- 10. traffic -------------------------------------------------------------------------------


def test_two_way_traffic_and_objects_entering_and_leaving_the_view(world):
    for seed, seq in world.items():
        scene = seq.scene
        tracked = seq.renderer.tracked_classes
        visible = seq.visible()
        speeds = {iid: float(scene.agent_speed[agent_of(scene, iid)]) for iid in visible}
        cars = [iid for iid in visible if tracked[iid] == TrainId.CAR]
        people = [iid for iid in visible if tracked[iid] == TrainId.PERSON]
        assert any(speeds[i] > 0 for i in cars), f"seed {seed}: no visible car drives our way"
        assert any(speeds[i] < 0 for i in cars), f"seed {seed}: no visible oncoming car"
        # Oncoming cars drive on the left half of the road, ours on the right.
        for iid in cars:
            x = float(scene.agent_x[agent_of(scene, iid)])
            if speeds[iid] < 0:
                assert x < 0
            elif speeds[iid] > 0:
                assert x > 0
        for name, ids in (("car", cars), ("person", people)):
            assert ids, f"seed {seed}: no {name} is ever visible"
            assert any(len(visible[i]) < FRAMES for i in ids), f"seed {seed}: no {name} enters or leaves"


def test_people_walk_on_the_sidewalks(crowded):
    scene = crowded.scene
    edges = scene.band_edges
    people = [i for i, c in crowded.renderer.tracked_classes.items() if c == TrainId.PERSON]
    assert len(people) > 50
    for iid in people:
        agent = agent_of(scene, iid)
        x = float(scene.agent_x[agent])
        assert edges[0] <= x <= edges[1] or edges[2] <= x <= edges[3], f"person {iid} at x = {x:.2f}"
        assert abs(scene.agent_speed[agent]) <= SynthConfig().traffic.walk_speed_mps[1] + 1e-6


# --- config ------------------------------------------------------------------------------------


def test_config_rejects_bad_values():
    with pytest.raises(ValidationError):
        SynthConfig(traffic={"walk_speed_mps": (2.0, 1.0)})
    with pytest.raises(ValidationError):
        SynthConfig(traffic={"no_such_key": 1})
    with pytest.raises(ValidationError):
        SynthConfig(road={"lanes_per_direction": (1, 4)})
    config = SynthConfig(traffic={"pedestrians_per_100m": 30})
    assert config.traffic.pedestrians_per_100m == 30
    assert SynthConfig.model_validate(config.model_dump(mode="json")) == config
