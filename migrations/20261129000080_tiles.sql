-- Vector tiles (tiles crate): the civici layer selects house numbers by the tile's box, on their geometry. The
-- geocoder's index is on geom::geography (distances in metres) and cannot serve a box in degrees.
create index civico_geom_idx on toponymy.civico using gist (geom) where geom is not null;
