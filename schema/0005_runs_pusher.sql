-- Who pushed, and what: the pusher's name as the git server gave it
-- (GL_USERNAME, GITEA_PUSHER_NAME, REMOTE_USER, else the hook's OS user),
-- and the commit's author ("Name <email>") and subject (the first line
-- of its message). They are copied into the row when the run is queued,
-- so 'runs' and 'show' can print them without the repository, which may
-- be gone or moved. Rows made before this migration keep NULL.

ALTER TABLE runs ADD COLUMN pusher TEXT;
ALTER TABLE runs ADD COLUMN author TEXT;
ALTER TABLE runs ADD COLUMN subject TEXT;
