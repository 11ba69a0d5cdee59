-- Vector tiles (tiles crate): what every layer's query computes from the tile's address, written once.

-- The box a tile's query selects by: the tile with its 64-unit buffer (of 4096), in WGS84, kept within the
-- Web Mercator square (beyond ±180° longitudes would wrap).
create function core.tile_query_box(z integer, x integer, y integer) returns geometry
language sql immutable strict parallel safe as $$
    select st_transform(st_clipbybox2d(st_tileenvelope(z, x, y, margin => 0.015625),
                                       st_makeenvelope(-20037508.34, -20037508.34, 20037508.34, 20037508.34)),
                        4326)
$$;

-- The simplification tolerance of zoom `z` (about half a screen pixel, in metres of Web Mercator), 0 from zoom
-- `full` on, where geometries are shown as they are.
create function core.tile_tolerance(z integer, full_from integer) returns float8
language sql immutable strict parallel safe as $$
    select case when z < full_from then 40075016.68557849 / power(2, z::float8) / 2048 else 0 end
$$;
