-- Issue 14 item 4: an Open311 report with a point or an address alone is
-- placed in a hamlet. A unit gets a centre point (set by `danvan unit
-- centre`, or the mean of its households' points) and a place key: its
-- folded name without the kind word ("Thôn Mai Hoàng" → "mai hoang"),
-- computed in Rust (`danvan_domain::place::place_key`) for new and renamed
-- units, and for the units already there by the first start after this
-- migration (`Store::migrate`). Keep in step with the other backend's
-- file of the same name.

ALTER TABLE units ADD COLUMN lat DOUBLE PRECISION;
ALTER TABLE units ADD COLUMN lon DOUBLE PRECISION;
ALTER TABLE units ADD COLUMN place_key TEXT COLLATE "C";

-- A point is looked for in a window of latitudes (then longitudes).
CREATE INDEX units_centre ON units (lat, lon);
-- An address is looked for by its runs of words.
CREATE INDEX units_place_key ON units (place_key);
