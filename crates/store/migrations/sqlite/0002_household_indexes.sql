-- Fewer index writes per household (an import writes hundreds of thousands):
-- a household's hamlet is found through its path (`path` equals the hamlet's
-- path), and the team index only holds households that have a team (the
-- unassigned ones are found by path).
DROP INDEX households_hamlet;
DROP INDEX households_team;
CREATE INDEX households_team ON households (team_id, head_sort_key) WHERE team_id IS NOT NULL;
