-- What an API token opens: 'api' (the JSON API and Open311) or 'gateway'
-- (only the SMS gateway's callback, /sms/inbound). Tokens issued before
-- this migration stay API tokens; a gateway needs a new one.
ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'gateway'));
