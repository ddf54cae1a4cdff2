from flight.mission import Mission, MissionItem, resume_from


def _mission():
    wp = lambda x, bins=(): MissionItem(kind="waypoint", lat_deg=x, lon_deg=0.0, rel_alt_m=2.0, bin_ids=bins)
    items = (MissionItem(kind="takeoff", rel_alt_m=2.0), MissionItem(kind="change_speed", speed_m_s=1.5),
             MissionItem(kind="gimbal", gimbal_pitch_deg=-10.0), wp(1.0, ("A",)), wp(2.0, ("A",)),
             wp(3.0), wp(4.0, ("B",)), wp(5.0, ("B",)), MissionItem(kind="rtl"))
    return Mission(home=(0.0, 0.0, 10.0), items=items)


def test_resume_reflies_the_interrupted_pass_with_takeoff_and_state():
    m = _mission()
    r = resume_from(m, 7)  # seq 7 = items[6], start of pass B
    assert [it.kind for it in r.items] == ["takeoff", "change_speed", "gimbal", "waypoint", "waypoint", "rtl"]
    assert r.items[3].lat_deg == 4.0 and r.items[-1].kind == "rtl"


def test_resume_before_any_pass_keeps_everything():
    m = _mission()
    assert [it.kind for it in resume_from(m, 1).items] == [it.kind for it in m.items]
