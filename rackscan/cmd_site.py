"""``rackscan site check``: validate a site file, print its summary, draw its plan view."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    site_app = typer.Typer(help="Site model: validate a site file and draw its plan view.", no_args_is_help=True)

    @site_app.command("check")
    def check(
        site_yaml: Path = typer.Argument(..., help="site YAML file"),
        png: Path = typer.Option(None, "--png", help="plan view PNG (default: next to the site file)"),
    ) -> None:
        """Validate SITE_YAML; print aisles, faces, bins, total face length; write a PNG plan view."""
        from rich.console import Console
        from rich.table import Table

        from warehouse.plan_view import save_plan_view
        from warehouse.site import load_site

        site = load_site(site_yaml)
        s = site.summary()
        t = Table(title=f"site {s.name}", show_header=False)
        for k, v in [
            ("aisles", s.n_aisles), ("racks", s.n_racks), ("faces", s.n_faces), ("bins", s.n_bins),
            ("total face length (m)", f"{s.face_length_m:.1f}"),
            ("tallest rack (m)", f"{s.max_height_m:.2f}"), ("ceiling (m)", f"{s.ceiling_m:.2f}"),
            ("no-fly zones", s.n_no_fly_zones),
            ("origin", f"{site.origin.lat_deg:.7f}, {site.origin.lon_deg:.7f}, {site.origin.alt_m:.2f} m, +x at {site.origin.heading_deg:.1f} deg"),
        ]:
            t.add_row(k, str(v))
        Console().print(t)
        out = save_plan_view(site, png or site_yaml.with_suffix(".png"))
        typer.echo(f"plan view: {out}")

    app.add_typer(site_app, name="site")
