import plotly.graph_objects as go
import streamlit as st

from dashboard import data
from dashboard.widgets import pick_reconciliation, status_legend

st.title("Rack view")
rid = pick_reconciliation()
if rid is not None:
    bins = data.bin_status(rid)
    status_legend()
    face = st.selectbox("Rack face", sorted(bins.face_id.unique()), key="rack_face")
    fb = bins[bins.face_id == face].copy()
    fb["col"] = (fb.bay.rank(method="dense") - 1) * fb.position.max() + fb.position
    fig = go.Figure()
    for status, part in fb.groupby("status"):
        fig.add_trace(go.Scatter(
            x=part["col"], y=part["level"], mode="markers+text", name=status, text=part["bin_id"].str[4:],
            marker=dict(symbol="square", size=58, color=data.STATUS_COLORS[status]),
            textfont=dict(color="white", size=10), customdata=part[["bin_id", "counted_qty", "erp_qty", "sku"]],
            hovertemplate="%{customdata[0]}<br>counted %{customdata[1]} · ERP %{customdata[2]}<br>%{customdata[3]}<extra></extra>"))
    fig.update_layout(height=110 + 90 * fb.level.max(), xaxis=dict(visible=False), yaxis=dict(title="level", dtick=1),
                      margin=dict(t=10, b=10), legend=dict(orientation="h"), plot_bgcolor="#fafafa")
    event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode="points", key="rack_chart")
    picked = None
    try:
        pts = event.selection.points if event else []
        if pts:
            picked = pts[0]["customdata"][0]
    except (AttributeError, KeyError, IndexError, TypeError):
        picked = None
    ids = fb.sort_values(["bay", "level", "position"]).bin_id.tolist()
    bin_id = st.selectbox("Bin", ids, index=ids.index(picked) if picked in ids else 0, key="rack_bin")
    d = data.bin_detail(rid, bin_id)
    left, right = st.columns([2, 3])
    with left:
        crop = img = None
        for o in d["observations"]:
            crop = data.evidence_image(d["bundle_path"], o.get("evidence_crop_path")) or crop
            img = data.evidence_image(d["bundle_path"], o["evidence_path"]) or img
        if crop:
            st.image(crop, caption=f"{bin_id}, cut out of its best frame", width="stretch")
        if img:
            st.image(img, caption="the whole frame", width="stretch")
        if not crop and not img:
            st.info("No evidence image for this bin.")
    with right:
        st.subheader(bin_id)
        obs = d["observations"]
        c = st.columns(3)
        c[0].metric("Counted", sum(o["count"] for o in obs))
        c[1].metric("ERP", sum(e["qty"] for e in d["erp"]))
        c[2].metric("Confidence", f"{min((o['confidence'] for o in obs), default=0):.0%}")
        st.write("SKU counted:", ", ".join(sorted({o["sku"] for o in obs if o["sku"]})) or "—")
        st.write("SKU in ERP:", ", ".join(sorted({e["sku"] for e in d["erp"]})) or "—")
        for x in d["discrepancies"]:
            st.markdown(f"- **{x['kind']}** {x['sku']} (ERP {x['erp_qty']}, counted {x['counted_qty']}) · status *{x['status']}*"
                        + (f" · found in {x['paired_bin_id']}" if x["paired_bin_id"] else ""))
