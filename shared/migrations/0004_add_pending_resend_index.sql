-- The intake's re-send loop looks for PENDING plants whose message went out
-- long ago but that no worker has claimed (a lost message or retry).
CREATE INDEX plants_pending_sent_idx ON plants (message_sent_at)
    WHERE ai_processing_status = 'PENDING';
