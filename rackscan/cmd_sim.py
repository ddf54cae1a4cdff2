"""``rackscan sim --listen udpout:127.0.0.1:14550``: run the simulated ArduCopter until Ctrl-C."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("sim")
    def sim(
        listen: str = typer.Option("udpout:127.0.0.1:14550", "--listen", help="mavutil address (udpout:HOST:PORT sends to a GCS; udpin:HOST:PORT waits for one)"),
        speedup: float = typer.Option(1.0, "--speedup", help="vehicle seconds per wall second"),
        home_lat_deg: float = typer.Option(10.7769, "--home-lat-deg"),
        home_lon_deg: float = typer.Option(106.7009, "--home-lon-deg"),
        home_alt_m: float = typer.Option(10.0, "--home-alt-m", help="home altitude AMSL"),
        gps_fix: int = typer.Option(6, "--gps-fix", help="GPS fix type: 6 RTK fixed, 5 RTK float, 3 3D"),
        drop_pct: float = typer.Option(0.0, "--drop-pct", help="packets dropped each way, percent"),
        rtk_loss_at_s: float = typer.Option(None, "--rtk-loss-at-s", help="seconds after arming when RTK degrades"),
        rtk_loss_fix: int = typer.Option(3, "--rtk-loss-fix", help="fix type after the RTK loss (0: GPS gone)"),
        battery_voltage_at_s: float = typer.Option(None, "--battery-voltage-at-s", help="seconds after arming when the pack's voltage drops"),
        battery_voltage_v: float = typer.Option(10.0, "--battery-voltage-v", help="the pack's resting voltage after the drop (as SITL's SIM_BATT_VOLTAGE)"),
        link_cut_at_s: float = typer.Option(None, "--link-cut-at-s", help="seconds after arming when the link goes silent"),
        link_cut_s: float = typer.Option(30.0, "--link-cut-s", help="how long the link stays cut, vehicle seconds"),
        refuse_arm: str = typer.Option(None, "--refuse-arm", help="refuse to arm with this reason"),
        signing_key_hex: str = typer.Option(None, "--signing-key-hex", help="MAVLink 2 signing key, 64 hex digits"),
        require_signing: bool = typer.Option(False, "--require-signing", help="reject unsigned packets"),
    ) -> None:
        """Run a simulated ArduCopter speaking MAVLink until Ctrl-C."""
        import time

        from rich.console import Console

        from flight.signing import key_from_hex
        from flight.sim import Faults, SimConfig, SimVehicle

        key = key_from_hex(signing_key_hex)
        cfg = SimConfig(home_lat_deg=home_lat_deg, home_lon_deg=home_lon_deg, home_alt_m=home_alt_m, speedup=speedup,
                        gps_fix=gps_fix, signing_key=key, require_signing=require_signing,
                        faults=Faults(drop_pct=drop_pct, rtk_loss_at_s=rtk_loss_at_s, rtk_loss_fix=rtk_loss_fix,
                                      battery_voltage_at_s=battery_voltage_at_s, battery_voltage_v=battery_voltage_v,
                                      link_cut_at_s=link_cut_at_s,
                                      link_cut_s=link_cut_s, refuse_arm_reason=refuse_arm))
        console = Console()
        veh = SimVehicle(listen, cfg).start()
        console.print(f"simulated ArduCopter on {listen} (speedup {speedup}x); Ctrl-C stops it")
        try:
            while True:
                time.sleep(1.0)
                s = veh.snapshot()
                console.print(f"t={s.sim_time_s:7.1f}s {s.mode:9s} {'ARMED' if s.armed else 'disarmed':8s} "
                              f"E{s.east_m:7.2f} N{s.north_m:7.2f} U{s.up_m:5.2f} fix={s.fix_type} batt={s.battery_pct:5.1f}% {s.voltage_v:5.2f}V "
                              f"wp={s.mission_seq}/{s.mission_count}")
        except KeyboardInterrupt:
            console.print("stopping the simulated vehicle")
        finally:
            veh.stop()
