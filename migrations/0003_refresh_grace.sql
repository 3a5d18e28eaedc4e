-- doorstep schema 3: a rotated refresh token may be presented once more
-- within the grace window (a client that refreshed twice at once); the
-- second time it is a breach (REF-8), so that one use is recorded.

ALTER TABLE refresh_tokens ADD COLUMN grace_used_at INTEGER;
