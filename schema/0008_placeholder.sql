-- A placeholder for 0008_notifications.sql of branch wt-notify, so that
-- the migrations of this branch have no gap (schema.Migrations refuses
-- one). Delete this file when the branches merge: 0008_notifications.sql
-- takes its place. It changes nothing.

CREATE TABLE placeholder_0008 (x INTEGER) STRICT;
DROP TABLE placeholder_0008;
