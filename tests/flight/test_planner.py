import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight.errors import FlightError
from flight.planner import PlanOptions, frames_per_bin, leg_s, move_s, plan
from rackscan.cli import main
from tests.conftest import DEFAULT_SITE
from warehouse.camera import CameraSpec
from warehouse.site import convex_polygons_overlap, load_site


@pytest.fixture(scope="module")
def site():
    return load_site(DEFAULT_SITE)


@pytest.fixture(scope="module")
def result(site):
    return plan(site, CameraSpec())


def test_standoff_and_speed_follow_the_physics(result):
    cam = CameraSpec()
    assert 3.0 / cam.gsd_mm_px(result.standoff_m) == pytest.approx(3.75)  # product QR, 80% of the limit
    assert result.speed_m_s <= cam.max_speed_m_s(result.standoff_m) + 1e-9


def test_every_bin_is_seen_whole_in_three_frames(site, result):
    cam = CameraSpec()
    counts = {}
    for p in result.passes:
        for bid, c in frames_per_bin(site.face(p.face_id), p.v_m, result.standoff_m, cam, result.speed_m_s).items():
            counts[bid] = max(counts.get(bid, 0), c)
    assert set(counts) == {b.bin_id for b in site.bins}
    assert min(counts.values()) >= 3 == min(3, result.min_frames_per_bin)


def _site_with_levels(tmp_path, levels, top):
    text = DEFAULT_SITE.read_text().replace("levels_m: [0.0, 1.5, 3.0], top_m: 4.5",
                                            f"levels_m: {list(levels)}, top_m: {top}")
    p = tmp_path / "site.yaml"
    p.write_text(text)
    return load_site(p)


@pytest.mark.parametrize("levels, top, overlap", [
    ((0.0, 1.5, 3.0), 4.5, 0.2),
    ((0.0, 1.5, 3.0), 4.5, 0.0),
    ((0.0, 1.5, 3.0), 4.5, 0.4),
    ((0.0, 1.2, 2.4, 3.6), 4.8, 0.2),
    ((0.0, 2.0), 4.0, 0.2),
    ((0.0, 1.0, 2.0, 3.0, 4.0, 5.0), 6.0, 0.3),
])
def test_passes_cover_floor_to_bin_tops_and_hold_one_label_row_twice(tmp_path, levels, top, overlap):
    """The lowest view reaches the floor, the highest the bins' top, gaps stay within the overlap,
    and one label row is whole in two passes with a margin: what fusion needs to tell a camera
    clock error from drift without RTK."""
    import math

    from flight.planner import LABEL_MARGIN_M, TOP_MARGIN_M, label_half_m

    s = _site_with_levels(tmp_path, levels, top)
    cam = CameraSpec()
    res = plan(s, cam, PlanOptions(overlap=overlap))
    half = res.standoff_m * math.tan(math.radians(cam.fov_deg()[1]) / 2)
    cover = 2 * half * (1 - overlap)
    assert not any("clock offset" in w for w in res.warnings)
    for face in s.faces:
        vs = sorted(p.v_m for p in res.passes if p.face_id == face.face_id)
        assert vs[0] - half <= 1e-9 and vs[0] >= 0.3
        assert vs[-1] + half >= max(b.v1_m for b in face.bins) + TOP_MARGIN_M - 1e-9
        assert max(np.diff(vs), default=0.0) <= cover + 1e-9
        rows = {round(b.label.center_uv_m[1], 3): label_half_m(b.label) for b in face.bins}
        assert any(sum(abs(v - x) <= half - sz - LABEL_MARGIN_M + 1e-9 for x in vs) >= 2 for v, sz in rows.items())


def test_a_plan_whose_passes_cannot_share_a_label_row_says_so(tmp_path):
    """Single-level racks: the one label row sits below any second pass's reach, and the plan warns."""
    res = plan(_site_with_levels(tmp_path, (0.0,), 1.5), CameraSpec())
    assert any("clock offset cannot be told from drift" in w for w in res.warnings)


def test_waypoints_stay_clear_of_racks_and_no_fly_zones_and_under_the_ceiling(site, result):
    feet = list(site.footprints().values()) + [np.array(z.polygon_m) for z in site.spec.no_fly_zones]
    for m in result.missions:
        for it in m.items:
            if it.kind != "waypoint":
                continue
            p = site.origin.geodetic_to_site(it.lat_deg, it.lon_deg, site.origin.alt_m)
            probe = np.array([[p[0] - 0.2, p[1] - 0.2], [p[0] + 0.2, p[1] - 0.2], [p[0] + 0.2, p[1] + 0.2], [p[0] - 0.2, p[1] + 0.2]])
            assert not any(convex_polygons_overlap(probe, f) for f in feet), it
            assert it.rel_alt_m < site.spec.ceiling_m - 0.5


def test_fence_and_rally(result, site):
    m = result.missions[0]
    assert m.fence[0].inclusion and len(m.fence[0].vertices_deg) == 4
    assert sum(not f.inclusion for f in m.fence) == len(site.spec.no_fly_zones)
    assert len(m.rally) == 4 and m.items[0].kind == "takeoff"


def test_every_sortie_lands_on_its_pad_not_at_a_rally_point(site):
    """The rally points (each end of every aisle flown) are for failsafes: a sortie's own end flies
    home at the transit altitude and lands on the pad, where the battery is changed and where the
    fleet plan has it; an RTL would land at the nearest rally point, the end of the aisle just flown."""
    r = plan(site, CameraSpec(), PlanOptions(endurance_s=300.0))
    assert len(r.missions) > 1
    for m in r.missions:
        home = site.origin.geodetic_to_site(m.home[0], m.home[1], site.origin.alt_m)
        *_, back, land = m.items
        assert back.kind == "waypoint" and land.kind == "land" and not any(it.kind == "rtl" for it in m.items)
        for it in (back, land):
            p = site.origin.geodetic_to_site(it.lat_deg, it.lon_deg, site.origin.alt_m)
            assert np.hypot(p[0] - home[0], p[1] - home[1]) < 0.01
        assert back.rel_alt_m == max(it.rel_alt_m for it in m.items if it.kind == "waypoint")


def test_short_endurance_splits_into_sorties(site):
    r = plan(site, CameraSpec(), PlanOptions(endurance_s=300))
    assert len(r.missions) > 1
    covered = [b for m in r.missions for it in m.items for b in it.bin_ids]
    assert set(covered) == {b for p in r.passes for b in p.bin_ids}


def test_battery_too_small_for_one_pass(site):
    with pytest.raises(FlightError, match="battery gives"):
        plan(site, CameraSpec(), PlanOptions(endurance_s=40))


def test_bins_per_hour_beats_a_manual_count(result):
    assert result.bins_per_flight_hour > 100


def test_plan_cli_writes_plan_and_png(tmp_path, capsys):
    out = tmp_path / "m.plan"
    assert main(["plan", str(DEFAULT_SITE), "--aisles", "A01", "-o", str(out)]) == 0
    assert out.exists() and out.with_suffix(".png").stat().st_size > 10_000
    assert "bins per flight hour" in capsys.readouterr().out


@pytest.mark.parametrize("content,fragment", [("focal_mm: -1\n", "focal_mm"), ("nope: 1\n", "nope: unknown field")])
def test_plan_cli_bad_camera(tmp_path, capsys, content, fragment):
    cam = tmp_path / "cam.yaml"
    cam.write_text(content)
    assert main(["plan", str(DEFAULT_SITE), "--camera", str(cam), "-o", str(tmp_path / "m.plan")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {cam}:1:") and fragment in err


@pytest.mark.parametrize("lux,verdict,slower", [(800, "ok", False), (60, "ok", True), (15, "dark", True)])
def test_the_light_sets_exposure_and_speed(site, lux, verdict, slower):
    bright = plan(site, CameraSpec(), PlanOptions())
    res = plan(site, CameraSpec(), PlanOptions(lux=lux))
    assert res.exposure.verdict == verdict
    assert (res.speed_m_s < bright.speed_m_s) == slower
    assert res.speed_m_s * res.exposure.exposure_s <= CameraSpec().gsd_mm_px(res.standoff_m) / 1000 + 1e-9  # 1 px of blur
    m = res.missions[0].meta
    assert m["exposure_s"] == pytest.approx(res.exposure.exposure_s, rel=1e-3) and m["lux"] == pytest.approx(lux)
    assert (res.bins_per_flight_hour < bright.bins_per_flight_hour) == slower
    assert any("dim store" in w for w in res.warnings) == (verdict == "dark")


def test_a_store_too_dark_to_count_is_refused_unless_asked(site):
    with pytest.raises(FlightError) as e:
        plan(site, CameraSpec(), PlanOptions(lux=6))
    msg = str(e.value)
    assert msg.startswith("light: 6 lux on the faces is too dark to count") and "expected at least 1" in msg and "\n" not in msg
    res = plan(site, CameraSpec(), PlanOptions(lux=6, allow_dark=True))
    assert res.exposure.verdict == "too_dark" and any("too dark" in w for w in res.warnings)
    lit = CameraSpec(light_lux_at_1m=300.0)  # lights on the drone make it countable
    assert plan(site, lit, PlanOptions(lux=6)).exposure.verdict == "ok"


def test_plan_cli_prints_the_exposure_and_refuses_the_dark(tmp_path, capsys):
    assert main(["plan", str(DEFAULT_SITE), "--lux", "40", "-o", str(tmp_path / "m.plan")]) == 0
    out = capsys.readouterr().out
    assert "40 lux: exposure" in out and "pass speed" in out
    assert main(["plan", str(DEFAULT_SITE), "--lux", "4", "-o", str(tmp_path / "m.plan")]) == 1
    assert capsys.readouterr().err.startswith("error: light: 4 lux on the faces is too dark to count")


@pytest.mark.parametrize("opts, sorties", [
    (PlanOptions(), 1),
    (PlanOptions(endurance_s=400.0), 2),
    (PlanOptions(endurance_s=250.0, battery_swap_s=60.0), 3),
    (PlanOptions(aisles=("A02",), max_speed_m_s=1.0), 1),
])
def test_where_the_flight_time_goes_adds_up(opts, sorties):
    res = plan(load_site(DEFAULT_SITE), CameraSpec(), opts)
    assert len(res.missions) == sorties
    assert sum(res.time_s.values()) == pytest.approx(res.est_flight_time_s)
    one = plan(load_site(DEFAULT_SITE), CameraSpec(), PlanOptions()).time_s["takeoff and landing"]
    assert res.time_s["takeoff and landing"] == pytest.approx(one * sorties) and min(res.time_s.values()) > 0
    assert res.battery_swaps_s == opts.battery_swap_s * (sorties - 1)


def test_plan_prints_where_the_time_goes(tmp_path, capsys):
    assert main(["plan", str(DEFAULT_SITE), "--endurance-s", "400", "--battery-swap-s", "240",
                 "-o", str(tmp_path / "m.plan")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "where the flight time goes" in out and "passes (scanning)" in out and "turns and settling" in out
    assert "1 x 4 min = 4.0 min" in out and "bins per wall-clock hour" in out


def test_a_faces_passes_are_chained_at_the_face(site, result):
    """The full mission reaches the next pass on a face straight up or down at the standoff: the
    transit altitude only over home and at each face's entry and exit, and the chained plan is
    shorter than one that climbs out between the passes."""
    from flight.planner import _build_missions

    (m,) = result.missions
    wps = [it for it in m.items if it.kind == "waypoint"]
    transit = max(it.rel_alt_m for it in wps)
    faces = {p.face_id for p in result.passes}
    assert sum(it.rel_alt_m == transit for it in wps) == 2 + 2 * len(faces)  # over home out and back; in, out per face
    assert sum(it.kind == "set_yaw" for it in m.items) == len(faces)
    for a, b in zip(wps, wps[1:]):  # every descent below the transit altitude is a vertical one
        if a.rel_alt_m == transit and b.rel_alt_m < transit:
            assert (a.lat_deg, a.lon_deg) == (b.lat_deg, b.lon_deg)
    climbing = _build_missions(site, CameraSpec(), PlanOptions(), result.passes, {a: result.standoff_m for a in site.aisle_ids},
                               result.speed_m_s, result.passes_per_face, result.min_frames_per_bin, [], None)
    assert result.est_flight_time_s < climbing.est_flight_time_s - 60
    assert result.time_s["passes (scanning)"] == pytest.approx(climbing.time_s["passes (scanning)"])


def test_the_shipped_4k_camera_flies_half_the_passes_further_away(site, result):
    """flight/cameras/inspection-4k-wide.yaml: labels resolve further away, where the view is twice
    as tall, so each face needs half the passes and the site takes less flight."""
    from pathlib import Path

    from warehouse.camera import load_camera

    cam = load_camera(Path(__file__).resolve().parents[2] / "flight" / "cameras" / "inspection-4k-wide.yaml")
    r4 = plan(site, cam)
    assert 3.0 / cam.gsd_mm_px(r4.standoff_m) == pytest.approx(3.75)  # the same 80% of the label limit
    assert r4.standoff_m > 1.4 * result.standoff_m
    assert all(2 * n4 <= n for n4, n in zip(r4.passes_per_face.values(), result.passes_per_face.values()))
    assert r4.bins_per_flight_hour > 1.5 * result.bins_per_flight_hour


@given(st.floats(0.0, 50.0), st.floats(0.0, 50.0), st.floats(0.2, 5.0), st.floats(0.2, 5.0))
def test_a_longer_move_never_takes_less_time_and_never_beats_the_top_speed(d1, d2, v, a):
    lo, hi = sorted((d1, d2))
    assert move_s(lo, v, a) <= move_s(hi, v, a) + 1e-9
    assert move_s(hi, v, a) >= hi / v - 1e-9
    knee = v * v / a  # where the triangle becomes a trapezoid, the two agree
    assert move_s(knee * (1 - 1e-9), v, a) == pytest.approx(move_s(knee, v, a), rel=1e-6)


@pytest.mark.parametrize("d_xy, d_up, v, seconds", [
    (0.0, 1.0, 1.5, 2.0),  # a chained pass 1 m up: WPNAV_ACC_Z 1 m/s/s never reaches 2.5 m/s (SITL: 1.8-1.9 s)
    (0.0, -4.81, 1.5, 4.81 / 1.5 + 1.5),  # down from the transit altitude at WPNAV_SPD_DN (SITL: 3.4 s)
    (11.8, 0.0, 1.5, 11.8 / 1.5 + 0.6),  # a pass at 1.5 m/s, WPNAV_ACC 2.5 m/s/s (SITL: 8.5-9.3 s with settling)
    (14.2, 0.5, 1.5, 14.2 / 1.5 + 0.6),  # the slower of the two parts
    (0.0, 0.0, 1.5, 0.0),
])
def test_legs_as_arducopter_flies_them(d_xy, d_up, v, seconds):
    assert leg_s(PlanOptions(), d_xy, d_up, v) == pytest.approx(seconds)


PAIR_4K = CameraSpec(name="pair-4k", image_width_px=3840, image_height_px=2160, focal_mm=4.4, mounts_yaw_deg=(-90.0, 90.0))


def test_a_camera_pair_flies_each_aisle_down_its_middle_in_fewer_passes(site):
    """Both faces of an aisle from one pass: the 4K pair flies the default site's aisles at 1.5 m
    from each face (their middle), each bin whole in three frames, sooner than one 4K camera."""
    from flight.planner import pass_heading_deg

    pair, one = plan(site, PAIR_4K), plan(site, PAIR_4K.mount(1).model_copy(update={"mounts_yaw_deg": (0.0,)}))
    assert all(p.other_face_id for p in pair.passes) and pair.standoff_by_aisle == pytest.approx({"A01": 1.5, "A02": 1.5})
    assert len(pair.passes) < len(one.passes) and pair.est_flight_time_s < one.est_flight_time_s
    counts = {}
    for p in pair.passes:
        fa = site.face(p.face_id)
        assert pass_heading_deg(site, PAIR_4K, p) == pytest.approx(pass_heading_deg(site, PAIR_4K, pair.passes[0]))
        assert fa.site_to_face(fa.face_to_site([[p.u_from_m, p.v_m, 1.5]]))[0][2] == pytest.approx(1.5)
        for fid in p.face_ids:
            for bid, c in frames_per_bin(site.face(fid), p.v_m, 1.5, PAIR_4K, pair.speed_m_s).items():
                counts[bid] = max(counts.get(bid, 0), c)
    assert set(counts) == {b.bin_id for b in site.bins} and min(counts.values()) >= 3


def test_a_pair_too_far_from_the_faces_scans_one_face_at_a_time_with_its_right_camera(site):
    """The 1080p pair's labels need 1.49 m and the aisles' middle is 1.50 m away: each face is
    flown as one camera would, with the vehicle turned so that its right camera faces the rack."""
    from flight.planner import _heading_deg, pass_heading_deg

    pair = CameraSpec(mounts_yaw_deg=(-90.0, 90.0))
    res, one = plan(site, pair), plan(site, CameraSpec())
    assert not any(p.other_face_id for p in res.passes) and len(res.passes) == len(one.passes)
    assert sum("scans one face at a time" in w for w in res.warnings) == 2
    p = res.passes[0]
    facing = _heading_deg(site, -site.face(p.face_id).normal_site)
    assert pass_heading_deg(site, pair, p) == pytest.approx((facing - 90) % 360)
