-- When a retried plant may be claimed again. A duplicate or re-sent message
-- that arrives earlier is skipped, so a 429's requested wait is honoured.
ALTER TABLE plants ADD COLUMN next_attempt_at timestamptz;
