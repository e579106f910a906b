-- Room on each page for a new version of every row on it: a late event rewrites the counts and
-- running totals of its night's later rows, none of them indexed, so with room on the page the
-- update is HOT (no new index entry), three to five times cheaper than one that moves the row
-- (BENCHMARKS.md, "The sync's rewrite of running totals"). Pages already written keep their
-- packing until rewritten; new pages and rows get the room.
ALTER TABLE dashboard_pace SET (fillfactor = 50);
