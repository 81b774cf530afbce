-- The plants table is also the outbox: message_sent_at stays NULL until the
-- identification message reached the queue, so a re-send loop can find it.
CREATE TABLE plants (
    id                    uuid PRIMARY KEY,
    owner_id              text NOT NULL CHECK (owner_id <> ''),
    nickname              text NOT NULL DEFAULT '',
    original_image_path   text NOT NULL,
    image_content_type    text NOT NULL,
    ai_processing_status  text NOT NULL DEFAULT 'PENDING'
        CHECK (ai_processing_status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')),
    scientific_name       text,
    description           text,
    ai_data               jsonb,
    -- Model name and version, finish reason and token counts of the call
    -- that produced ai_data.
    ai_usage              jsonb,
    failure_code          text,
    failure_message       text,
    -- Model calls started for this plant, redeliveries after a crash included.
    attempts              integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Set by each claim; the final UPDATE must present it, so a stale
    -- worker cannot overwrite the result of a newer one.
    claim_token           uuid,
    processing_started_at timestamptz,
    -- Why the last attempt did not finish, kept while a retry is pending.
    last_error_code       text,
    last_error_message    text,
    idempotency_key       text,
    message_sent_at       timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plants_owner_idempotency_key UNIQUE (owner_id, idempotency_key),
    CONSTRAINT plants_completed_has_data CHECK (
        ai_processing_status <> 'COMPLETED' OR ai_data IS NOT NULL
    ),
    CONSTRAINT plants_failed_has_code CHECK (
        ai_processing_status <> 'FAILED' OR failure_code IS NOT NULL
    )
);

CREATE INDEX plants_unsent_idx ON plants (created_at)
    WHERE ai_processing_status = 'PENDING' AND message_sent_at IS NULL;

CREATE INDEX plants_processing_idx ON plants (processing_started_at)
    WHERE ai_processing_status = 'PROCESSING';

CREATE INDEX plants_owner_idx ON plants (owner_id, created_at);
