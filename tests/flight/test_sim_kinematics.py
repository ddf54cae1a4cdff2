import math

from hypothesis import given, settings, strategies as st

from flight.sim_kinematics import Limits, State, step

coord = st.floats(-200, 200)


@settings(max_examples=60, deadline=None)
@given(e=coord, n=coord, u=st.floats(0, 30), speed=st.floats(0.5, 15))
def test_reaches_target_within_limits(e, n, u, speed):
    limits = Limits()
    s, dt = State(), 0.05
    for _ in range(int(600 / dt)):
        prev = s
        s = step(s, target_enu_m=(e, n, u), yaw_target_deg=None, speed_m_s=speed, limits=limits, dt_s=dt)
        assert math.hypot(s.v_east_m_s, s.v_north_m_s) <= min(speed, limits.max_speed_m_s) + 1e-6
        acc = math.hypot(s.v_east_m_s - prev.v_east_m_s, s.v_north_m_s - prev.v_north_m_s) / dt
        assert acc <= limits.max_accel_m_s2 + 1e-6
        assert s.v_up_m_s <= limits.climb_m_s + 1e-9 and -s.v_up_m_s <= limits.descent_m_s + 1e-9
        if math.hypot(s.east_m - e, s.north_m - n) < 0.05 and abs(s.up_m - u) < 1e-6:
            break
    assert math.hypot(s.east_m - e, s.north_m - n) < 0.05 and abs(s.up_m - u) < 1e-6


@given(start=st.floats(0, 359), target=st.floats(0, 359))
def test_yaw_turns_the_short_way_at_the_rate(start, target):
    limits = Limits(yaw_rate_deg_s=90.0)
    s = step(State(yaw_deg=start), target_enu_m=(0, 0, 0), yaw_target_deg=target, speed_m_s=0,
             limits=limits, dt_s=0.1)
    moved = ((s.yaw_deg - start + 180) % 360) - 180
    want = ((target - start + 180) % 360) - 180
    assert abs(moved) <= 9.0 + 1e-6
    assert abs(moved - max(-9.0, min(9.0, want))) < 1e-6
